/** What to trace from flags and svtrace.cfg: --lab/--machine/--iface/--stream/--points, flags over the file. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseMachine, parseStreams, resolveSelection } from "../src/config/selection.js";
import { UserError } from "../src/errors.js";

test("--machine accepts hypervisor, vm and the original's VM, case-insensitive", () => {
  assert.equal(parseMachine("hypervisor"), "hypervisor");
  assert.equal(parseMachine("VM"), "vm");
  assert.equal(parseMachine("Vm"), "vm");
  assert.throws(() => parseMachine("standalone_machine"), UserError);
});

test("--stream: repeated and comma-separated, deduplicated, exact (no byte-sum folding)", () => {
  assert.deepEqual(parseStreams(["svID0001,svID0010", "svID0100", "svID0001"]), [
    "svID0001",
    "svID0010",
    "svID0100",
  ]);
  assert.deepEqual(parseStreams(undefined), []);
  assert.throws(() => parseStreams(["ok,\u00e9t\u00e9"]), UserError);
});

test("--lab: lab profile with the running lab's switch unless --switch is given", () => {
  assert.deepEqual(resolveSelection({ lab: true }, "tap").trace, { profile: "lab", labSwitch: "tap" });
  assert.deepEqual(resolveSelection({ lab: true, switch: "ovs" }, "tap").trace, {
    profile: "lab",
    labSwitch: "ovs",
  });
  assert.equal(resolveSelection({ lab: true }).trace.labSwitch, "bridge");
  const s = resolveSelection({ lab: true, stream: ["a,b"], points: "T1, T4", rate: 32000, clock: "tai" });
  assert.deepEqual(s.trace, {
    profile: "lab",
    labSwitch: "bridge",
    streams: ["a", "b"],
    points: ["T1", "T4"],
    expectedRate: 32000,
    clock: "tai",
  });
  assert.equal(s.title, "lab (bridge)");
});

test("svtrace.cfg gives the interface and map size; flags override it", () => {
  const dir = mkdtempSync(join(tmpdir(), "svt-sel-"));
  try {
    const conf = join(dir, "svtrace.cfg");
    writeFileSync(conf, "[DEFAULT]\nSV_INTERFACE=enp7s0\nSV_BUFFER_SIZE=100000\n");
    assert.deepEqual(resolveSelection({ machine: "hypervisor", conf }).trace, {
      profile: "hypervisor",
      iface: "enp7s0",
      mapKeys: 100000,
    });
    assert.deepEqual(resolveSelection({ machine: "VM", conf, iface: "eth1", bufferSize: 4096 }).trace, {
      profile: "vm",
      iface: "eth1",
      mapKeys: 4096,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("one-line errors: nothing selected, both --lab and --machine, a machine without interface", () => {
  assert.throws(
    () => resolveSelection({}),
    (e: unknown) => e instanceof UserError && /--lab .* --machine/.test(e.message),
  );
  assert.throws(() => resolveSelection({ lab: true, machine: "vm" }), /either --lab or --machine/);
  assert.throws(() => resolveSelection({ machine: "vm" }), /needs the SV interface/);
  assert.throws(
    () => resolveSelection({ machine: "hypervisor", conf: "/nonexistent/svtrace.cfg" }),
    /cannot read config/,
  );
});

test("real-host flags reach the tracer: --tap, --qemu-pid, --app, --app-tid, --kprobes", () => {
  assert.deepEqual(
    resolveSelection({ machine: "hypervisor", iface: "enp7s0", tap: "vnet3", qemuPid: 1580 }).trace,
    {
      profile: "hypervisor",
      iface: "enp7s0",
      tap: "vnet3",
      qemuPid: 1580,
    },
  );
  assert.deepEqual(
    resolveSelection({ machine: "vm", iface: "ens3", app: "sv_sub", appTid: "12, 13", kprobes: true }).trace,
    {
      profile: "vm",
      iface: "ens3",
      appComm: "sv_sub",
      appTids: [12, 13],
      kprobes: true,
    },
  );
  assert.throws(() => resolveSelection({ machine: "vm", iface: "ens3", appTid: "x" }), /--app-tid/);
});

test("--lab while the qemu lab is up: a one-line error naming what works instead (its VM is a guest)", () => {
  assert.throws(
    () => resolveSelection({ lab: true }, "qemu"),
    (e: unknown) =>
      e instanceof UserError &&
      /^--lab does not trace the qemu lab live yet.*svtrace record --lab traces both sides/.test(e.message),
  );
  assert.deepEqual(resolveSelection({ lab: true, switch: "bridge" }, "qemu").trace, {
    profile: "lab",
    labSwitch: "bridge",
  });
});
