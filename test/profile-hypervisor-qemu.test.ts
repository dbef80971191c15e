/**
 * The hypervisor profile's T2b with --qemu-pid: the vhost threads when QEMU has some (either thread model), else
 * QEMU's own threads (its read of the tap, as in the qemu lab on a host without vhost-net), else a one-line error.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { UserError } from "../src/errors.js";
import type { ThreadInfo } from "../src/probes/discovery.js";
import { type ProfileHost, resolveProfile } from "../src/probes/profiles.js";

function host(vhost: ThreadInfo[], own: ThreadInfo[]): ProfileHost {
  return {
    netnsExists: () => true,
    netnsInode: () => 4026531840,
    kprobesAvailable: () => false,
    threadsNamed: () => [],
    vhostThreads: () => vhost,
    threadsOf: () => own,
  };
}
const opts = { profile: "hypervisor" as const, iface: "hyp-in", tap: "vnet0", qemuPid: 500 };
const own = [
  { pid: 500, tid: 500, comm: "qemu-system-x86" },
  { pid: 500, tid: 503, comm: "CPU 0/TCG" },
];

test("vhost threads found: T2b filters on them", () => {
  const r = resolveProfile(opts, host([{ pid: 700, tid: 700, comm: "vhost-500" }], own));
  const t2b = r.points.find((p) => p.name === "T2b");
  assert.deepEqual(t2b?.filter.tids, [700]);
  assert.match(t2b?.label ?? "", /^T2b vhost copy/);
  assert.deepEqual(
    r.points.map((p) => p.name),
    ["T1", "T2a", "T2b"],
  );
});

test("no vhost thread: T2b is QEMU's own threads reading the tap, said in the notes", () => {
  const r = resolveProfile(opts, host([], own));
  const t2b = r.points.find((p) => p.name === "T2b");
  assert.deepEqual(t2b?.filter.tids, [500, 503]);
  assert.equal(t2b?.filter.dev, "vnet0");
  assert.match(t2b?.label ?? "", /^T2b QEMU copy into the guest from vnet0/);
  assert.ok(r.notes.some((n) => /no vhost thread for QEMU 500/.test(n)));
});

test("no such process: a one-line error naming --qemu-pid", () => {
  assert.throws(
    () => resolveProfile(opts, host([], [])),
    (e: unknown) => e instanceof UserError && /process 500 not found \(--qemu-pid\)/.test(e.message),
  );
});
