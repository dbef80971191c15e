/**
 * `svtrace lab` error paths: not root, `ip` missing, OVS missing, namespaces of the same names that svtrace
 * did not create, a bad prefix or switch. Each is one line on stderr, a non-zero exit, and nothing touched.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { assertRoot, cliMain } from "../helpers.js";
import { assertClean, labCli, namespacesWith } from "./lab-support.js";

const PREFIX = "tle-";

function oneLine(stderr: string): string {
  const lines = stderr.split("\n").filter(Boolean);
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${stderr}`);
  return lines[0] ?? "";
}

before(() => {
  assertRoot("lab tests");
  labCli(PREFIX, ["down"]);
});
after(() => {
  spawnSync("ip", ["netns", "del", `${PREFIX}hyp`]);
  labCli(PREFIX, ["down"]);
  assertClean(PREFIX);
});

test("not root: one-line error for up, down and status, nothing created", () => {
  for (const cmd of ["up", "down", "status"]) {
    const r = spawnSync(
      "setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, cliMain, "lab", cmd],
      { encoding: "utf8", env: { ...process.env, SVTRACE_LAB_PREFIX: PREFIX } },
    );
    assert.equal(r.status, 1, `lab ${cmd}: ${r.stderr}`);
    assert.equal(
      oneLine(r.stderr),
      `svtrace: svtrace lab ${cmd} needs root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN); run it with sudo`,
    );
  }
  assertClean(PREFIX);
});

test("`ip` missing: one-line error", () => {
  const r = labCli(PREFIX, ["up"], { PATH: "/nonexistent" });
  assert.equal(r.code, 1);
  assert.equal(
    oneLine(r.stderr),
    "svtrace: `ip` not found on PATH: install iproute2 (apt-get install iproute2)",
  );
  assertClean(PREFIX);
});

test("OVS missing: one-line error for --switch ovs, bridge still works with the same PATH", () => {
  const dir = mkdtempSync(join(tmpdir(), "svt-lab-path-"));
  try {
    for (const p of ["ip", "sysctl"]) {
      const found = spawnSync("which", [p], { encoding: "utf8" }).stdout.trim();
      symlinkSync(found, join(dir, p));
    }
    const r = labCli(PREFIX, ["up", "--switch", "ovs"], { PATH: dir });
    assert.equal(r.code, 1);
    assert.match(
      oneLine(r.stderr),
      /^svtrace: Open vSwitch not found \(ovsdb-tool, ovsdb-server, ovs-vswitchd, ovs-vsctl, ovs-ofctl missing on PATH\): install openvswitch-switch/,
    );
    assertClean(PREFIX);
    const ok = labCli(PREFIX, ["up", "--switch", "bridge"], { PATH: dir });
    assert.equal(ok.code, 0, ok.stderr);
    const down = labCli(PREFIX, ["down"], { PATH: dir });
    assert.equal(down.code, 0, down.stderr);
    assertClean(PREFIX);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a namespace with the lab's name not made by svtrace: up refuses and touches nothing, down leaves it", () => {
  const add = spawnSync("ip", ["netns", "add", `${PREFIX}hyp`], { encoding: "utf8" });
  assert.equal(add.status, 0, add.stderr);
  try {
    const r = labCli(PREFIX, ["up"]);
    assert.equal(r.code, 1);
    assert.equal(
      oneLine(r.stderr),
      "svtrace: network namespace tle-hyp already exists and was not created by svtrace: remove it (ip netns del) or pick another prefix with SVTRACE_LAB_PREFIX",
    );
    assert.deepEqual(namespacesWith(PREFIX), ["tle-hyp"], "nothing else created");
    const links = spawnSync("ip", ["-n", `${PREFIX}hyp`, "-o", "link"], { encoding: "utf8" }).stdout;
    assert.doesNotMatch(links, /hyp-in|br0/, "nothing created inside the foreign namespace");
    const d = labCli(PREFIX, ["down"]);
    assert.equal(d.code, 0);
    assert.equal(oneLine(d.stderr), "svtrace: left alone: tle-hyp (not created by svtrace)");
    assert.deepEqual(namespacesWith(PREFIX), ["tle-hyp"], "down left the foreign namespace alone");
    const s = labCli(PREFIX, ["status", "--json"]);
    assert.equal(s.code, 1);
    assert.ok(
      (JSON.parse(s.stdout) as { problems: string[] }).problems.includes(
        "namespace tle-hyp exists but was not created by svtrace",
      ),
    );
  } finally {
    spawnSync("ip", ["netns", "del", `${PREFIX}hyp`]);
  }
  assertClean(PREFIX);
});

test("bad prefix and bad switch: one-line errors", () => {
  const p = labCli("bad/prefix", ["up"]);
  assert.equal(p.code, 1);
  assert.match(oneLine(p.stderr), /^svtrace: bad lab prefix "bad\/prefix": use 1-20 letters/);
  const s = labCli(PREFIX, ["up", "--switch", "vpp"]);
  assert.equal(s.code, 1);
  assert.match(s.stderr, /argument 'vpp' is invalid\. Allowed choices are bridge, ovs, tap, qemu\./);
  assertClean(PREFIX);
});

test("qemu options without --switch qemu, a missing --kernel, lab exec without a lab: one-line errors", () => {
  const k = labCli(PREFIX, ["up", "--switch", "bridge", "--kernel-package", "linux-image-amd64"]);
  assert.equal(k.code, 1);
  assert.equal(k.stderr, "svtrace: --kernel, --kernel-package and --accel need --switch qemu\n");
  const f = labCli(PREFIX, ["up", "--switch", "qemu", "--kernel", "/nonexistent/vmlinuz-6.1.0-1-amd64"]);
  assert.equal(f.code, 1);
  assert.equal(
    f.stderr,
    "svtrace: kernel /nonexistent/vmlinuz-6.1.0-1-amd64 does not exist: give the path of a vmlinuz file\n",
  );
  const e = labCli(PREFIX, ["exec", "--", "true"]);
  assert.equal(e.code, 1);
  assert.equal(e.stderr, `svtrace: no lab is up (prefix "${PREFIX}"): run svtrace lab up first\n`);
  assertClean(PREFIX);
});

test("a damaged state file: one-line error, nothing touched, file kept", () => {
  const file = `/run/svtrace/lab-${PREFIX}.json`;
  mkdirSync("/run/svtrace", { recursive: true });
  writeFileSync(file, '{"version":1,');
  try {
    for (const cmd of ["up", "down", "status"]) {
      const r = labCli(PREFIX, [cmd]);
      assert.equal(r.code, 1, `lab ${cmd}`);
      assert.equal(
        oneLine(r.stderr),
        `svtrace: lab state ${file} is damaged: check \`ip netns list\` and /run/svtrace/lab-${PREFIX}, clean up by hand, then delete the file`,
      );
      assert.equal(readFileSync(file, "utf8"), '{"version":1,');
    }
    assert.deepEqual(namespacesWith(PREFIX), []);
  } finally {
    rmSync(file, { force: true });
  }
});

test("--delay-us: only with --switch tap, a whole number; a tap lab up with another delay is not reused", () => {
  const bridge = labCli(PREFIX, ["up", "--switch", "bridge", "--delay-us", "50"]);
  assert.equal(bridge.code, 1);
  assert.match(oneLine(bridge.stderr), /--delay-us needs --switch tap/);
  assert.deepEqual(namespacesWith(PREFIX), []);
  const bad = labCli(PREFIX, ["up", "--switch", "tap", "--delay-us", "1.5"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /whole number of µs/);
  assert.deepEqual(namespacesWith(PREFIX), []);
  try {
    const up = labCli(PREFIX, ["up", "--switch", "tap", "--delay-us", "100", "--json"]);
    assert.equal(up.code, 0, up.stderr);
    const st = JSON.parse(up.stdout) as { delayUs: number; forwarder: { delayUs: number } };
    assert.equal(st.delayUs, 100);
    assert.equal(st.forwarder.delayUs, 100);
    const other = labCli(PREFIX, ["up", "--switch", "tap"]);
    assert.equal(other.code, 1);
    assert.match(oneLine(other.stderr), /already up with --delay-us 100/);
    assert.match(labCli(PREFIX, ["status"]).stdout, /--delay-us 100/);
  } finally {
    labCli(PREFIX, ["down"]);
  }
});
