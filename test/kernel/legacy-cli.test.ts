/**
 * The original tool's command line, as svtrace-ansible runs it (issue 12 item 7): `svtrace.py --record
 * --machine hypervisor|VM --conf svtrace.cfg --out DIR/`, started inside the lab's namespaces with
 * `ip netns exec` (the hypervisor side in svt-hyp on hyp-in, the guest side in svt-vm on vm0, tap lab: its
 * `vhost-svt` forwarder is the hypervisor's vhost thread), stopped with SIGINT: DIR/results holds one whole-µs
 * latency per line, exactly the first-to-last point latencies of the full record written beside it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { labDown, labNames, labUp } from "../../src/lab/index.js";
import { ArrowRecordReader } from "../../src/record/arrow-reader.js";
import { firstProbe } from "../../src/record/schema.js";
import { assertRoot, repoRoot, runCli, runCliAsync } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "svt-legacy-"));

before(async () => {
  assertRoot("the legacy command-line test");
  await labDown();
  await labUp({ mode: "tap" });
});

after(async () => {
  await labDown();
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  pid: number;
  ready: Promise<void>;
  done: Promise<{ code: number | null; stderr: string }>;
}

/** `ip netns exec NS DIR/svtrace.py ARGS...` (ip execs the command: the PID is svtrace's own). */
function startLegacy(netns: string, args: string[]): Running {
  const child = spawn("ip", ["netns", "exec", netns, join(dir, "svtrace.py"), ...args]);
  let stderr = "";
  let onReady: () => void = () => {};
  const ready = new Promise<void>((res) => {
    onReady = res;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
    if (stderr.includes("recording")) onReady();
  });
  const done = new Promise<{ code: number | null; stderr: string }>((res) => {
    child.on("close", (code) => res({ code, stderr }));
  });
  void done.then(() => onReady());
  return { pid: child.pid ?? -1, ready, done };
}

/** The first-to-last point latency (whole µs, truncated) of every complete row of an Arrow record. */
function recordLatencies(path: string): string[] {
  const r = new ArrowRecordReader(path);
  const out: string[] = [];
  const first = firstProbe(r.meta.points);
  const last = r.meta.points.length - 1;
  for (const c of r.batches()) {
    const a = c.t[first] as BigInt64Array;
    const b = c.t[last] as BigInt64Array;
    for (let i = 0; i < c.length; i++) {
      if (c.valid[first]?.[i] === 0 || c.valid[last]?.[i] === 0) continue;
      out.push(String(((b[i] as bigint) - (a[i] as bigint)) / 1000n));
    }
  }
  r.close();
  return out;
}

test("svtrace.py --record --machine hypervisor|VM --conf F --out DIR/, SIGINT: DIR/results matches the record", {
  timeout: 240_000,
}, async () => {
  const n = labNames();
  symlinkSync(join(repoRoot, "bin/svtrace.js"), join(dir, "svtrace.py"));
  const sides = [
    { machine: "hypervisor", netns: n.hyp, iface: n.hypIn },
    { machine: "VM", netns: n.vm, iface: n.vmIf },
  ].map((s) => {
    const out = join(dir, s.machine);
    writeFileSync(
      join(dir, `${s.machine}.cfg`),
      `[DEFAULT]\nSV_INTERFACE=${s.iface}\nSV_BUFFER_SIZE=100000\n`,
    );
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out); // it exists, as /tmp/ does
    return { ...s, out };
  });
  const sub = runCliAsync(["subscribe", "--iface", n.vmIf, "--netns", n.vm, "--json"], {
    timeoutMs: 180_000,
  });
  const runs = sides.map((s) =>
    startLegacy(s.netns, [
      "--record",
      "--machine",
      s.machine,
      "--conf",
      join(dir, `${s.machine}.cfg`),
      "--out",
      `${s.out}/`,
    ]),
  );
  try {
    await Promise.all(runs.map((r) => r.ready));
    for (const r of runs) assert.equal(readFileSync(`/proc/${r.pid}/comm`, "utf8").trim(), "svtrace.py");
    const pub = runCli(
      ["publish", "--iface", n.pubIf, "--netns", n.pub, "--svids", "legacySV", "--count", "2000", "--json"],
      { timeoutMs: 120_000 },
    );
    assert.equal(pub.code, 0, pub.stderr);
    await new Promise((r) => setTimeout(r, 1000));
    for (const r of runs) process.kill(r.pid, "SIGINT");
    const ends = await Promise.all(runs.map((r) => r.done));
    sides.forEach((s, i) => {
      const e = ends[i];
      assert.equal(e.code, 0, `${s.machine}: ${e.stderr}`);
      assert.match(e.stderr, new RegExp(`Results saved to ${s.out}/results`));
      const lines = readFileSync(join(s.out, "results"), "utf8").split("\n").filter(Boolean);
      const expected = recordLatencies(join(s.out, "results.arrow"));
      assert.ok(
        expected.length > 0,
        `${s.machine}: the record has complete SVs: ${runCli(["report", join(s.out, "results.arrow")]).stdout}\n${e.stderr}`,
      );
      assert.deepEqual(lines, expected, `${s.machine}: results lines = the record's latencies`);
      for (const l of lines) assert.match(l, /^\d+$/);
    });
  } finally {
    for (const r of runs) {
      try {
        process.kill(r.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    sub.child.kill("SIGINT");
    await sub.done;
  }
});
