/**
 * The tracer commands' one-line errors with a non-zero exit, through the CLI: not root, bpftrace missing,
 * unknown interface (from a flag or from svtrace.cfg, the flag winning), no lab, bad selections and options.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { assertRoot, cliMain, runCli } from "../helpers.js";
import { withFakeBpftrace } from "./tracer-support.js";

function oneLineError(r: { code: number; stderr: string }, re: RegExp, what: string): void {
  assert.equal(r.code, 1, `${what}: exit 1 (${r.stderr})`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `${what}: one line: ${r.stderr}`);
  assert.match(lines[0], /^svtrace: /);
  assert.match(lines[0], re, what);
}

test("not root: one line, exit 1 (live, record, detect, demo)", () => {
  assertRoot("running the CLI as another user");
  for (const args of [
    ["live", "--lab"],
    ["record", "--lab", "--out", "/tmp/x.arrow"],
    ["demo", "--duration", "1"],
  ]) {
    const r = spawnSync(
      "setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, cliMain, ...args],
      { encoding: "utf8", timeout: 60_000 },
    );
    oneLineError({ code: r.status ?? 1, stderr: r.stderr }, /root/i, args[0]);
  }
});

test("bpftrace missing or unusable", () => {
  assertRoot("the tracer preflight");
  const r = runCli(["live", "--lab", "--backend", "bpftrace", "--duration", "1"], {
    env: { SVTRACE_BPFTRACE: "/nonexistent/bpftrace" },
  });
  oneLineError(r, /bpftrace/, "missing bpftrace");
});

test("unknown interface, from --iface or from svtrace.cfg (the flag wins)", () => {
  assertRoot("the tracer preflight");
  oneLineError(
    runCli(["live", "--machine", "hypervisor", "--iface", "h6nope0", "--duration", "1"]),
    /h6nope0/,
    "flag",
  );
  const dir = mkdtempSync(join(tmpdir(), "svt-err-"));
  try {
    const conf = join(dir, "svtrace.cfg");
    writeFileSync(conf, "[DEFAULT]\nSV_INTERFACE=h6cfg0\nSV_BUFFER_SIZE=100000\n");
    oneLineError(
      runCli(["record", "--machine", "VM", "--conf", conf, "--out", join(dir, "r.arrow")]),
      /h6cfg0/,
      "cfg",
    );
    oneLineError(
      runCli(["live", "--machine", "VM", "--conf", conf, "--iface", "h6flag0"]),
      /h6flag0/,
      "flag over cfg",
    );
    writeFileSync(conf, "[DEFAULT]\nSV_BUFFER_SIZE=lots\n");
    oneLineError(
      runCli(["live", "--machine", "VM", "--conf", conf, "--iface", "lo"]),
      /svtrace\.cfg:2/,
      "bad cfg",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("no lab, nothing selected, bad --machine, bad --prometheus, missing --out", () => {
  assertRoot("the tracer preflight");
  oneLineError(
    runCli(["live", "--lab", "--duration", "1"], { env: { SVTRACE_LAB_PREFIX: "h6none-" } }),
    /lab namespace h6none-\w+ not found.*lab up/,
    "no lab",
  );
  oneLineError(runCli(["live"]), /--lab .*--machine/, "nothing selected");
  oneLineError(
    runCli(["live", "--machine", "standalone_machine", "--iface", "lo"]),
    /--machine/,
    "bad machine",
  );
  oneLineError(runCli(["live", "--lab", "--prometheus", "nope"]), /--prometheus/, "bad prometheus");
  const r = runCli(["record", "--lab"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--out/);
});

test("bpftrace rejecting the program: one line with its first ERROR, exit 1 (not a screenful)", () => {
  assertRoot("the tracer preflight");
  withFakeBpftrace(
    ['echo "stdin:150:11-12: ERROR: Type mismatch for \\$a1" >&2', 'echo "      detail line" >&2', "exit 1"],
    (fake, dir) => {
      const r = runCli(
        ["record", "--lab", "--backend", "bpftrace", "--out", join(dir, "r.arrow"), "--duration", "2"],
        {
          env: { SVTRACE_BPFTRACE: fake },
        },
      );
      oneLineError(r, /bpftrace could not start the trace: Type mismatch/, "program rejected");
    },
  );
});

test("libbpf backend: a missing BPF object or libbpf is one line with --backend libbpf; auto falls back to bpftrace and says why", () => {
  assertRoot("the tracer preflight");
  const dir = mkdtempSync(join(tmpdir(), "svt-libbpf-err-"));
  try {
    const cases = [
      { env: { SVTRACE_BPF_OBJECT: join(dir, "none.bpf.o") }, re: /BPF object .*none\.bpf\.o not found/ },
      { env: { SVTRACE_LIBBPF: join(dir, "libbpf.so.1") }, re: /cannot load .*libbpf\.so\.1/ },
    ];
    for (const c of cases) {
      oneLineError(
        runCli(
          ["live", "--machine", "hypervisor", "--iface", "lo", "--backend", "libbpf", "--duration", "1"],
          {
            env: c.env,
          },
        ),
        c.re,
        `--backend libbpf with ${Object.keys(c.env)[0]}`,
      );
      const out = join(dir, "auto.csv");
      const r = runCli(
        [
          "record",
          "--machine",
          "hypervisor",
          "--iface",
          "lo",
          "--format",
          "csv",
          "--out",
          out,
          "--duration",
          "2",
        ],
        { env: c.env, timeoutMs: 120_000 },
      );
      assert.equal(r.code, 0, `auto with ${Object.keys(c.env)[0]}: ${r.stderr}`);
      assert.match(r.stderr, /, bpftrace\) to /, "auto fell back to bpftrace");
      assert.match(r.stderr, /libbpf backend not used: /, "and said why");
      assert.match(r.stderr, c.re, "naming the problem");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--show-program: the BPF C source and its read-only configuration with libbpf, the bpftrace program with bpftrace", () => {
  assertRoot("the tracer preflight");
  const l = runCli(["record", "--machine", "hypervisor", "--iface", "lo", "--show-program"]);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, /svtrace libbpf backend: /);
  assert.match(
    l.stdout,
    /pt\[0\] T1: attach = 1 \(raw_tracepoint\/netif_receive_skb\), dev = "lo", netns = \d+ via dev/,
  );
  assert.match(l.stdout, /SEC\("raw_tracepoint\/netif_receive_skb"\)/);
  const b = runCli([
    "live",
    "--machine",
    "hypervisor",
    "--iface",
    "lo",
    "--backend",
    "bpftrace",
    "--show-program",
  ]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /^tracepoint:net:netif_receive_skb$/m);
  assert.doesNotMatch(b.stdout, /raw_tracepoint/);
});
