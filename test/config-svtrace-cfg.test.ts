/** svtrace.cfg parsing (the original tool's INI file) and how it combines with command-line flags. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CfgSyntaxError, parseIni, parseSvtraceCfg, readSvtraceCfg } from "../src/config/svtrace-cfg.js";
import { UserError } from "../src/errors.js";

test("the original file: [DEFAULT] SV_INTERFACE and SV_BUFFER_SIZE", () => {
  const cfg = parseSvtraceCfg("[DEFAULT]\nSV_INTERFACE=enp7s0\nSV_BUFFER_SIZE=100000\n");
  assert.equal(cfg.iface, "enp7s0");
  assert.equal(cfg.bufferSize, 100000);
});

test("configparser syntax: case-insensitive keys, ':' separator, spaces, comments, CRLF", () => {
  const cfg = parseSvtraceCfg(
    "# svtrace-ansible template\r\n[DEFAULT]\r\n; comment\r\nsv_interface : ens1f0 \r\nSv_Buffer_Size =  16384\r\n",
  );
  assert.equal(cfg.iface, "ens1f0");
  assert.equal(cfg.bufferSize, 16384);
});

test("DEFAULT values are inherited by other sections; continuation lines join", () => {
  const s = parseIni("[DEFAULT]\nA=1\nB=x\n  y\n[other]\nC=3\n");
  assert.deepEqual(s.get("other"), { a: "1", b: "x\ny", c: "3" });
});

test("missing keys stay undefined (flags or defaults decide)", () => {
  const cfg = parseSvtraceCfg("[DEFAULT]\n");
  assert.equal(cfg.iface, undefined);
  assert.equal(cfg.bufferSize, undefined);
});

test("errors name the file and line", () => {
  assert.throws(
    () => parseSvtraceCfg("[DEFAULT]\nSV_INTERFACE=eth0\nthis is not ini\n", "x.cfg"),
    (e: unknown) => e instanceof CfgSyntaxError && e.line === 3 && /x\.cfg:3:/.test(e.message),
  );
  assert.throws(
    () => parseSvtraceCfg("[DEFAULT]\nSV_BUFFER_SIZE=lots\n", "y.cfg"),
    (e: unknown) => e instanceof CfgSyntaxError && e.line === 2 && /positive integer/.test(e.message),
  );
  assert.throws(() => parseSvtraceCfg("SV_INTERFACE=eth0\n"), /before any \[SECTION\]/);
});

test("readSvtraceCfg: a missing file is a one-line user error", () => {
  const dir = mkdtempSync(join(tmpdir(), "svt-cfg-"));
  try {
    assert.throws(
      () => readSvtraceCfg(join(dir, "nope.cfg")),
      (e: unknown) => e instanceof UserError && /no such file/.test(e.message),
    );
    const p = join(dir, "svtrace.cfg");
    writeFileSync(p, "[DEFAULT]\nSV_INTERFACE=lo\nSV_BUFFER_SIZE=5\n");
    assert.deepEqual(readSvtraceCfg(p).bufferSize, 5);
    writeFileSync(p, "[DEFAULT]\nSV_BUFFER_SIZE=-3\n");
    assert.throws(
      () => readSvtraceCfg(p),
      (e: unknown) => e instanceof UserError && e.message.includes(`${p}:2`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
