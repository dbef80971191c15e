/**
 * The tracer's error paths and plumbing on the real machine: one-line errors for an unknown interface, kprobes
 * asked for on a kernel without them, a missing bpftrace, a lab that is not up, not root; the runner reports
 * attach failures, ignores the RLIMIT_MEMLOCK warning, and on SIGINT delivers END and every line printed;
 * the clock offset matches clock_gettime.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BPFTRACE_ARGS, FLUSH_PAD } from "../../src/bpftrace/generate.js";
import { UserError } from "../../src/errors.js";
import { CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI, clockNs } from "../../src/net/libc.js";
import { kprobesAvailable } from "../../src/probes/discovery.js";
import { resolveProfile } from "../../src/probes/profiles.js";
import { measureClockOffset } from "../../src/trace/clock.js";
import { checkBtf, checkTracepoints, ensureTracefs } from "../../src/trace/preflight.js";
import { BpftraceRunner, classifyStderr } from "../../src/trace/runner.js";
import { startTrace } from "../../src/trace/session.js";
import { assertRoot } from "../helpers.js";

async function rejectsUser(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${String(e)}`);
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /\n/, "one line");
    return true;
  });
}

describe("tracer errors", { timeout: 120_000 }, () => {
  it("unknown interface", async () => {
    assertRoot("tracer preflight");
    await rejectsUser(startTrace({ profile: "hypervisor", iface: "nope0" }), /unknown interface nope0/);
  });

  it("kprobes requested: this kernel has none, said in one line", async () => {
    assertRoot("tracer preflight");
    if (kprobesAvailable()) {
      // a kernel with kprobes: the points exist
      const r = resolveProfile({ profile: "vm", iface: "lo", kprobes: true });
      assert.deepEqual(
        r.points.map((p) => p.attach),
        ["kprobe:tpacket_rcv", "kprobe:consume_skb"],
      );
      return;
    }
    assert.ok(!existsSync("/sys/kernel/tracing/kprobe_events"));
    await rejectsUser(startTrace({ profile: "vm", iface: "lo", kprobes: true }), /no kprobes/);
    assert.throws(() => resolveProfile({ profile: "vm", iface: "lo", points: ["K1"] }), /kprobe point/);
  });

  it("bpftrace missing", async () => {
    assertRoot("tracer preflight");
    await rejectsUser(
      startTrace({ profile: "vm", iface: "lo", backend: "bpftrace", bpftrace: "/nonexistent/bpftrace" }),
      /bpftrace not found/,
    );
  });

  it("no BTF, no tracefs, missing tracepoint: one line each", () => {
    assert.throws(
      () => checkBtf("/nonexistent/btf/vmlinux"),
      /^UserError: no kernel BTF .*CONFIG_DEBUG_INFO_BTF/,
    );
    assert.throws(
      () => ensureTracefs("/nonexistent/tracing"),
      /no tracefs at \/nonexistent\/tracing\/events: mount it/,
    );
    assert.throws(
      () =>
        checkTracepoints(
          [{ name: "T1", label: "T1", attach: "tracepoint:net:netif_receive_skb", filter: {} }],
          "/nonexistent/tracing",
        ),
      /tracepoint net:netif_receive_skb \(point T1\) does not exist/,
    );
    // and on this machine they pass
    checkBtf();
    ensureTracefs();
  });

  it("lab not up, unknown point, missing interface for a profile", () => {
    assert.throws(
      () => resolveProfile({ profile: "lab", labPrefix: "h5none-" }),
      /lab namespace h5none-hyp not found: start the lab first/,
    );
    assert.throws(() => resolveProfile({ profile: "vm", iface: "lo", points: ["T9"] }), /unknown point "T9"/);
    assert.throws(() => resolveProfile({ profile: "hypervisor" }), /needs the SV interface/);
  });

  it("not root: one line, exit 1", () => {
    const script = join(tmpdir(), `svtrace-notroot-${process.pid}.mjs`);
    const session = new URL("../../src/trace/session.js", import.meta.url).href;
    const errors = new URL("../../src/cli/errors.js", import.meta.url).href;
    writeFileSync(
      script,
      `import { startTrace } from ${JSON.stringify(session)};\nimport { reportError } from ${JSON.stringify(errors)};\n` +
        `try { await startTrace({ profile: "vm", iface: "lo" }); } catch (e) { process.exitCode = reportError(e); }\n`,
    );
    try {
      const r = spawnSync(
        "setpriv",
        ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, script],
        { encoding: "utf8" },
      );
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^svtrace: tracing needs root.*\n$/);
    } finally {
      rmSync(script, { force: true });
    }
  });
});

describe("runner", { timeout: 120_000 }, () => {
  it("sorts bpftrace's stderr", () => {
    assert.equal(
      classifyStderr(
        `ERROR: Unknown error -1: couldn't set RLIMIT_MEMLOCK for bpftrace. If your program is not loading, you can try "ulimit -l 8192" to fix the problem`,
      ),
      "ignored",
    );
    assert.equal(classifyStderr("ERROR: Error attaching probe: 'kprobe:consume_skb'"), "attach-failed");
    assert.equal(classifyStderr("stdin:1:1-20: ERROR: tracepoint not found: net:nope"), "attach-failed");
    assert.equal(classifyStderr("WARNING: something"), "warning");
  });

  it("reports an attach failure as the reason ready fails", async () => {
    assertRoot("bpftrace");
    const stderr: string[] = [];
    const r = new BpftraceRunner({
      binary: "bpftrace",
      program: 'BEGIN { printf("READY 1\\n"); }\ntracepoint:net:svtrace_nope { }\n',
      env: {},
      pointCount: 1,
      onEvent: () => {},
      onStderr: (l, k) => stderr.push(`${k}:${l}`),
    });
    await assert.rejects(r.ready, /tracepoint not found: net:svtrace_nope/);
    const x = await r.closed;
    assert.notEqual(x.code, 0);
    assert.ok(
      stderr.some((l) => l.startsWith("attach-failed:")),
      stderr.join("\n"),
    );
    assert.ok(!x.stderr.some((l) => /RLIMIT_MEMLOCK/.test(l)), "the harmless warning is not reported");
  });

  it("with full output buffering, a line printed before the flush pad arrives while bpftrace runs", async () => {
    assertRoot("bpftrace");
    let rows = 0;
    let sawRow: () => void = () => {};
    const row = new Promise<void>((res) => {
      sawRow = res;
    });
    const r = new BpftraceRunner({
      binary: "bpftrace",
      args: BPFTRACE_ARGS,
      // one short row a second: without the pad it would sit in bpftrace's 4 KiB stdio buffer until exit
      program: `BEGIN { printf("READY %llu\\n${FLUSH_PAD}\\n", nsecs); }\ninterval:s:1 { printf("R 1 0 %llu 1\\n${FLUSH_PAD}\\n", nsecs); }\n`,
      env: {},
      pointCount: 1,
      onEvent: (ev) => {
        if (ev.kind === "row") {
          rows++;
          sawRow();
        }
      },
      onStderr: () => {},
    });
    try {
      await r.ready;
      const timeout = new Promise<string>((res) => setTimeout(() => res("timeout"), 30_000).unref());
      assert.notEqual(
        await Promise.race([row.then(() => "row"), timeout]),
        "timeout",
        "no row while running",
      );
      assert.ok(rows >= 1);
    } finally {
      await r.stop();
    }
  });

  it("stops on SIGINT: END runs and every printed line arrives", async () => {
    assertRoot("bpftrace");
    const lines: string[] = [];
    const r = new BpftraceRunner({
      binary: "bpftrace",
      program:
        'BEGIN { printf("READY %llu\\n", nsecs); @n = 0; }\ninterval:ms:10 { @n = @n + 1; printf("R %llu 0 %llu 1\\n", @n, nsecs); }\nEND { printf("END\\n"); printf("@pend: %llu\\n", @n); clear(@n); }\n',
      env: {},
      pointCount: 1,
      onEvent: (ev) => {
        if (ev.kind === "row") lines.push(`R${ev.smpCnt}`);
        if (ev.kind === "end") lines.push("END");
        if (ev.kind === "mapEntries") lines.push(`N${ev.count}`);
      },
      onStderr: () => {},
    });
    await r.ready;
    await new Promise((res) => setTimeout(res, 500));
    const x = await r.stop();
    assert.equal(x.code, 0);
    const end = lines.indexOf("END");
    assert.ok(end > 0, "END ran");
    const n = Number(lines[end + 1]?.slice(1));
    const rows = lines.filter((l) => l.startsWith("R"));
    assert.ok(rows.length > 10);
    // Every row bpftrace read is delivered, in order, none missing in between. bpftrace 0.17 keeps its probes
    // attached while END runs but stops reading the perf buffer first, so the one interval event that fired in
    // that window can be counted in @n and never printed (seen in CI: 49 rows, @n = 50).
    assert.deepEqual(
      rows,
      rows.map((_, i) => `R${i + 1}`),
      "rows 1..k in order, none lost",
    );
    assert.ok(rows.length === n || rows.length === n - 1, `${rows.length} rows delivered, @n = ${n} at END`);
  });
});

describe("clock offset", () => {
  it("monotonic + offset = realtime within the measured round trip, TAI-REALTIME measured", () => {
    const off = measureClockOffset("realtime");
    const m = clockNs(CLOCK_MONOTONIC);
    const r = clockNs(CLOCK_REALTIME);
    const err = r - (m + off.offsetNs);
    assert.ok(err > -1_000_000n && err < 1_000_000n, `error ${err} ns`);
    assert.ok(off.rttNs >= 0n && off.rttNs < 1_000_000n);
    const direct = clockNs(CLOCK_TAI) - clockNs(CLOCK_REALTIME);
    assert.ok(
      off.taiMinusRealtimeNs - direct < 1_000_000n && direct - off.taiMinusRealtimeNs < 1_000_000n,
      `${off.taiMinusRealtimeNs} vs ${direct}`,
    );
    const tai = measureClockOffset("tai");
    assert.ok(tai.offsetNs - off.offsetNs - off.taiMinusRealtimeNs < 1_000_000n);
  });
});
