/**
 * Reference programs: the bpftrace program svtrace generates for each main profile, on a fixed machine
 * (namespace inodes, 2 CPUs, bpftrace 0.17), committed under test/fixtures/programs/. A change to the in-kernel
 * code shows as a reviewable diff of these files, as pwru's C program does. After a deliberate change:
 *   SVTRACE_UPDATE_FIXTURES=1 node --test dist/test/bpftrace-fixtures.test.js
 * rewrites them; review the diff and commit it with the change.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { featuresForVersion } from "../src/bpftrace/features.js";
import { generateProgram } from "../src/bpftrace/generate.js";
import { type ProfileHost, type ProfileOptions, resolveProfile } from "../src/probes/profiles.js";

const dir = fileURLToPath(new URL("../../test/fixtures/programs/", import.meta.url));

/** A machine that never changes: the lab's namespaces exist with these inodes; no vhost thread runs. */
function fixedHost(kprobes: boolean): ProfileHost {
  const inodes: Record<string, number> = { self: 4026531840, "svt-hyp": 4026532100, "svt-vm": 4026532200 };
  return {
    netnsExists: (n) => n in inodes,
    netnsInode: (n) => inodes[n] ?? 0,
    kprobesAvailable: () => kprobes,
    threadsNamed: () => [],
    vhostThreads: () => [],
  };
}

const cases: {
  file: string;
  opts: ProfileOptions;
  streams?: string[];
  kprobes?: boolean;
  context?: boolean;
}[] = [
  { file: "lab-bridge.bt", opts: { profile: "lab", labSwitch: "bridge", labPrefix: "svt-" } },
  {
    file: "lab-bridge-context.bt",
    opts: { profile: "lab", labSwitch: "bridge", labPrefix: "svt-" },
    context: true,
  },
  {
    file: "lab-tap-t2b.bt",
    opts: { profile: "lab", labSwitch: "tap", labPrefix: "svt-", points: ["T1", "T2", "T2b", "T3", "T4"] },
  },
  {
    file: "lab-bridge-two-streams.bt",
    opts: { profile: "lab", labSwitch: "bridge", labPrefix: "svt-" },
    streams: ["svID0000", "svID0001"],
  },
  { file: "hypervisor.bt", opts: { profile: "hypervisor", iface: "enp7s0", tap: "vnet0" } },
  { file: "vm.bt", opts: { profile: "vm", iface: "eth0", appComm: "svt-sub" } },
  {
    file: "vm-kprobes.bt",
    opts: { profile: "vm", iface: "eth0", appComm: "svt-sub", kprobes: true },
    kprobes: true,
  },
];

describe("reference programs (test/fixtures/programs)", () => {
  const features = featuresForVersion("bpftrace", "0.17.0", 0, 17);
  for (const c of cases) {
    it(c.file, () => {
      const points = resolveProfile(c.opts, fixedHost(c.kprobes ?? false)).points;
      const text = generateProgram({
        points,
        streams: c.streams,
        features,
        clock: "realtime",
        profile: c.opts.profile,
        cpus: 2,
        context: c.context,
      }).text;
      const path = `${dir}${c.file}`;
      if (process.env.SVTRACE_UPDATE_FIXTURES === "1") writeFileSync(path, text);
      assert.ok(existsSync(path), `${path} missing: run with SVTRACE_UPDATE_FIXTURES=1 to create it`);
      assert.equal(
        text,
        readFileSync(path, "utf8"),
        `the generated program differs from ${path}; if the change is deliberate, rerun with SVTRACE_UPDATE_FIXTURES=1 and commit the diff`,
      );
    });
  }
});
