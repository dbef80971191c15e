/**
 * `svtrace detect`: the stream census against every capture's tshark summary, and the command end to end on a
 * veth pair in a namespace of our own (svtrace publish on one end, detect on the other): streams, VLAN, rate,
 * modulus; the "no SV seen" and unknown-interface errors.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readPackets } from "../../src/capture/reader.js";
import { StreamCensus } from "../../src/detect/census.js";
import { assertRoot, capturesDir, runCli, runCliAsync } from "../helpers.js";

interface Summary {
  streams: { svID: string; appid: string; src: string; dst: string; vlan_id: number | null; asdus: number }[];
  smpCnt_wraps: { svID: string; prev: number; cur: number }[];
}

test("census of every capture matches the tshark summary (streams, MACs, VLAN, samples, modulus at a wrap)", () => {
  const files = readdirSync(capturesDir).filter((f) => /\.pcap(ng)?$/.test(f));
  assert.ok(files.length >= 8, "captures present");
  for (const f of files) {
    const sum = JSON.parse(
      readFileSync(join(capturesDir, f.replace(/\.pcap(ng)?$/, ".summary.json")), "utf8"),
    ) as Summary;
    const census = new StreamCensus();
    for (const p of readPackets(join(capturesDir, f))) {
      if (p.linkType === "other") continue;
      census.addRaw(p.data, p.linkType, p.tsNs);
    }
    const got = census.streams();
    // tshark's summary keys a stream by svID+APPID+MACs+VLAN too; the SLL capture has no destination MAC
    const want = sum.streams.map((s) => `${s.svID}|${s.appid}|${s.vlan_id}|${s.asdus}`).sort();
    const mine = got
      .map((s) => `${s.svID}|0x${s.appid.toString(16).padStart(4, "0")}|${s.vlan?.id ?? null}|${s.samples}`)
      .sort();
    assert.deepEqual(mine, want, f);
    for (const w of sum.smpCnt_wraps) {
      const s = got.find((x) => x.svID === w.svID);
      assert.ok(s, `${f} ${w.svID}`);
      assert.equal(s.modulusFrom, "wrap", `${f} ${w.svID} wrap seen`);
      assert.equal(s.modulus, w.prev + 1, `${f} ${w.svID} modulus`);
    }
  }
});

const NS = `h6det${process.pid}`;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "pipe" });
}

test("detect on a live veth: two publishers, untagged 50 Hz and VLAN 60 Hz", {
  timeout: 60_000,
}, async () => {
  assertRoot("svtrace detect on a veth pair");
  try {
    ip("netns", "add", NS);
    ip("-n", NS, "link", "add", "dA", "type", "veth", "peer", "name", "dB");
    ip("-n", NS, "link", "set", "dA", "up");
    ip("-n", NS, "link", "set", "dB", "up");
    execFileSync("ip", ["netns", "exec", NS, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
    const det = runCliAsync([
      "detect",
      "--iface",
      "dB",
      "--netns",
      NS,
      "--timeout",
      "15",
      "--listen",
      "2.5",
      "--json",
    ]);
    // detect prints nothing until done: give it a moment to bind, then start both publishers
    await new Promise((r) => setTimeout(r, 600));
    const pubA = runCliAsync([
      "publish",
      "--iface",
      "dA",
      "--netns",
      NS,
      "--svids",
      "svID0001,svID0010",
      "--duration",
      "4",
    ]);
    const pubB = runCliAsync([
      "publish",
      ...["--iface", "dA", "--netns", NS, "--svids", "MU60", "--freq", "60", "--vlan", "5", "--prio", "6"],
      ...["--appid", "4123", "--duration", "4"],
    ]);
    const [a, b, d] = await Promise.all([pubA.done, pubB.done, det.done]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(d.code, 0, d.stderr);
    const r = JSON.parse(d.stdout) as {
      streams: {
        svID: string;
        appid: number;
        vlan: { id: number; pcp: number } | null;
        rate: number;
        modulus: number;
        modulusFrom: string;
        nominal: string;
        src: string;
        dst: string;
      }[];
    };
    assert.deepEqual(
      r.streams.map((s) => s.svID),
      ["MU60", "svID0001", "svID0010"],
    );
    const [mu, s1, s10] = r.streams;
    assert.equal(s1.vlan, null);
    assert.equal(s10.vlan, null);
    assert.deepEqual(mu.vlan, { id: 5, pcp: 6 });
    assert.equal(mu.appid, 0x4123);
    assert.equal(s1.appid, 0x4000);
    assert.equal(s1.src, "c4:b5:12:00:00:01");
    // 2.5 s after the first SV: at least one wrap seen per stream
    assert.equal(s1.modulus, 4000);
    assert.equal(s1.modulusFrom, "wrap");
    assert.equal(mu.modulus, 4800);
    assert.match(mu.nominal, /60 Hz/);
    // rates measured from kernel timestamps; loose bounds (shared, noisy machine)
    assert.ok(s1.rate > 3000 && s1.rate < 5000, `rate ${s1.rate}`);
    assert.ok(mu.rate > 3600 && mu.rate < 6000, `rate ${mu.rate}`);
  } finally {
    try {
      ip("netns", "del", NS);
    } catch {
      /* not created */
    }
  }
});

test("detect: nothing arrives -> 'no SV seen on IF within S s', exit 1; unknown interface -> one line", () => {
  assertRoot("svtrace detect");
  const r = runCli(["detect", "--iface", "lo", "--timeout", "1"]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /^svtrace: no SV seen on lo within 1 s/);
  const u = runCli(["detect", "--iface", "h6-nope0", "--timeout", "1"]);
  assert.equal(u.code, 1);
  assert.match(u.stderr, /^svtrace: unknown interface h6-nope0/);
  assert.equal(u.stderr.trim().split("\n").length, 1);
});
