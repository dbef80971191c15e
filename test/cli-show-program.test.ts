/**
 * `--show-program` on record and live: prints the program the run would load, with the environment bpftrace
 * gets (--backend bpftrace) or the BPF C source and its read-only configuration (libbpf, the default where it
 * loads), and exits without attaching anything (no root needed: the vm profile on lo looks up only this
 * process's namespace). `record` without --out says what is missing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runCli } from "./helpers.js";

describe("--show-program", () => {
  for (const cmd of ["record", "live"]) {
    it(`${cmd} prints the libbpf backend's source and configuration by default, and exits`, () => {
      const r = runCli([cmd, "--machine", "vm", "--iface", "lo", "--stream", "svID0001", "--show-program"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\/\* svtrace libbpf backend: .*svtrace\.bpf\.o/);
      assert.match(
        r.stdout,
        /pt\[0\] T3: attach = 1 \(raw_tracepoint\/netif_receive_skb\), dev = "lo", netns = \d+ via dev/,
      );
      assert.match(r.stdout, /streams map \(svID -> number\): 1=svID0001/);
      assert.match(r.stdout, /^SEC\("raw_tracepoint\/skb_copy_datagram_iovec"\)$/m);
      assert.doesNotMatch(r.stderr, /recording|tracing/);
    });
    it(`${cmd} --backend bpftrace prints the bpftrace program and exits`, () => {
      const r = runCli([
        cmd,
        "--machine",
        "vm",
        "--iface",
        "lo",
        "--stream",
        "svID0001",
        "--backend",
        "bpftrace",
        "--show-program",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\/\/ run as: BPFTRACE_MAP_KEYS_MAX=\d+ .*bpftrace -B full PROGRAM\n/);
      assert.match(r.stdout, /point 1: T3 lo receive {2}<- tracepoint:net:netif_receive_skb dev=lo/);
      assert.match(r.stdout, /Streams: 1=svID0001/);
      assert.match(r.stdout, /^tracepoint:skb:skb_copy_datagram_iovec$/m);
      assert.doesNotMatch(r.stderr, /recording|tracing/);
    });
  }
  it("record --context shows the context flag and the wait threshold in the libbpf configuration", () => {
    const r = runCli([
      "record",
      "--machine",
      "vm",
      "--iface",
      "lo",
      "--context",
      "--threshold-us",
      "150",
      "--show-program",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /n_points = \d+, all_streams = 1, use_tai = \d, context = 1, wait_ns = 150000 \*\//,
    );
    assert.match(r.stdout, /^SEC\("raw_tracepoint\/sched_switch"\)$/m);
    const plain = runCli(["record", "--machine", "vm", "--iface", "lo", "--show-program"]);
    assert.doesNotMatch(plain.stdout, /context = 1/);
  });
  it("record without --out names the flag", () => {
    const r = runCli(["record", "--machine", "vm", "--iface", "lo"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "svtrace: say where to write the record: --out FILE (e.g. --out run.arrow)\n");
  });
});
