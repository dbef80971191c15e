/**
 * Capture writers: pcap (ns and µs) and pcapng (several interfaces, Ethernet and SLL) write -> read round trips,
 * tshark and tcpdump read what we write (same svID/smpCnt as tshark's reference for the original capture),
 * snaplen truncation, and streaming: reading a 200k-packet file does not grow memory.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { PcapWriter } from "../src/capture/pcap-writer.js";
import { PcapngWriter } from "../src/capture/pcapng-writer.js";
import { captureFormat, readPackets } from "../src/capture/reader.js";
import type { CapturedPacket } from "../src/capture/types.js";
import { capture, capturesDir } from "./helpers.js";

let tmp = "";
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "svtrace-h2-writer-"));
});
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function readAll(path: string): CapturedPacket[] {
  const out: CapturedPacket[] = [];
  for (const p of readPackets(path)) out.push({ ...p, data: p.data.slice() });
  return out;
}

/** svID and smpCnt per frame as tshark decodes them: "svID\tsmpCnt" lines (several ASDUs comma-joined). */
function tsharkSv(path: string): string[] {
  return execFileSync("tshark", ["-r", path, "-T", "fields", "-e", "sv.svID", "-e", "sv.smpCnt"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 256 * 1024 * 1024,
  })
    .split("\n")
    .filter((l) => l.length > 0);
}

/** The same from the reference decode of a shared capture. */
function refSv(stem: string): string[] {
  const byFrame = new Map<number, { svID: string[]; smpCnt: number[] }>();
  const text = gunzipSync(readFileSync(join(capturesDir, `${stem}.ref.jsonl.gz`))).toString("utf8");
  for (const line of text.split("\n")) {
    if (!line) continue;
    const r = JSON.parse(line) as { frame: number; svID: string; smpCnt: number };
    let e = byFrame.get(r.frame);
    if (!e) {
      e = { svID: [], smpCnt: [] };
      byFrame.set(r.frame, e);
    }
    e.svID.push(r.svID);
    e.smpCnt.push(r.smpCnt);
  }
  return [...byFrame.values()].map((e) => `${e.svID.join(",")}\t${e.smpCnt.join(",")}`);
}

describe("PcapWriter", () => {
  for (const nanosecond of [true, false]) {
    test(`round trip of a real capture, ${nanosecond ? "ns" : "µs"}; tshark reads the same svID/smpCnt`, () => {
      const stem = "local_libiec61850_example_noASDU2_svpub1_svpub2";
      const src = readAll(capture(`${stem}.pcap`));
      const out = join(tmp, `rt-${nanosecond}.pcap`);
      const w = new PcapWriter(out, { nanosecond });
      for (const p of src) w.write(p.tsNs + 789n, p.data, p.origLen);
      w.close();
      assert.equal(w.packets, src.length);
      assert.equal(captureFormat(out), nanosecond ? "pcap-ns" : "pcap");
      const back = readAll(out);
      assert.equal(back.length, src.length);
      back.forEach((p, i) => {
        const want = src[i].tsNs + 789n;
        assert.equal(p.tsNs, nanosecond ? want : (want / 1000n) * 1000n);
        assert.deepEqual(p.data, src[i].data);
        assert.equal(p.linkType, "ethernet");
      });
      assert.deepEqual(tsharkSv(out), refSv(stem));
    });
  }

  test("SLL link type round trip (tshark decodes the SV inside)", () => {
    const stem = "robidev_docker_sll_refrTm_4frames";
    const src = readAll(capture(`${stem}.pcapng`));
    const out = join(tmp, "sll.pcap");
    const w = new PcapWriter(out, { linkType: "sll" });
    for (const p of src) w.write(p.tsNs, p.data);
    w.close();
    const back = readAll(out);
    assert.deepEqual(
      back.map((p) => p.linkType),
      ["sll", "sll", "sll", "sll"],
    );
    assert.deepEqual(tsharkSv(out), refSv(stem));
  });

  test("snaplen cuts packets and keeps the original length", () => {
    const out = join(tmp, "snap.pcap");
    const w = new PcapWriter(out, { snaplen: 64 });
    w.write(1n, new Uint8Array(200).fill(7));
    w.write(2n, new Uint8Array(10).fill(8));
    w.close();
    const back = readAll(out);
    assert.equal(back[0].data.length, 64);
    assert.equal(back[0].origLen, 200);
    assert.equal(back[1].data.length, 10);
  });

  test("tcpdump reads a written file", () => {
    const stem = "mgadelha_sv_normal_traffic_60hz_vlan";
    const out = join(tmp, "tcpdump.pcap");
    const w = new PcapWriter(out);
    let n = 0;
    for (const p of readPackets(capture(`${stem}.pcap`))) {
      w.write(p.tsNs, p.data);
      if (++n === 50) break;
    }
    w.close();
    const lines = execFileSync("tcpdump", ["-nn", "-e", "-r", out], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    })
      .split("\n")
      .filter((l) => l.length > 0 && !l.startsWith("\t")); // drop tcpdump's hex dump of the unknown EtherType
    assert.equal(lines.length, 50);
    assert.match(lines[0], /ca:fe:c0:ff:ee:69 > 01:0c:cd:04:00:02/);
    assert.match(lines[0], /vlan 1/);
  });

  test("cannot create in a missing directory: one-line error", () => {
    assert.throws(() => new PcapWriter(join(tmp, "no/such/dir/x.pcap")), /cannot create: ENOENT/);
  });
});

describe("PcapngWriter", () => {
  test("several interfaces (Ethernet + SLL), ns timestamps; read back and tshark agrees", () => {
    const eth = readAll(capture("guseynov_pcapMissed_studenttool_gap.pcap"));
    const sll = readAll(capture("robidev_docker_sll_refrTm_4frames.pcapng"));
    const out = join(tmp, "multi.pcapng");
    const w = new PcapngWriter(out, { interfaces: [{ linkType: "ethernet", name: "eth0" }] });
    const sllIf = w.addInterface({ linkType: "sll", name: "any" });
    assert.equal(sllIf, 1);
    const expected: { ts: bigint; ifIndex: number; data: Uint8Array }[] = [];
    for (let i = 0; i < eth.length; i++) {
      const ts = 1700000000000000000n + BigInt(i) * 250_001n;
      w.write(ts, eth[i].data, eth[i].origLen, 0);
      expected.push({ ts, ifIndex: 0, data: eth[i].data });
      if (i < sll.length) {
        w.write(ts + 1n, sll[i].data, sll[i].origLen, 1);
        expected.push({ ts: ts + 1n, ifIndex: 1, data: sll[i].data });
      }
    }
    w.close();
    assert.throws(() => w.write(1n, new Uint8Array(1)), /write after close/);
    assert.equal(captureFormat(out), "pcapng");
    const back = readAll(out);
    assert.equal(back.length, expected.length);
    back.forEach((p, i) => {
      assert.equal(p.tsNs, expected[i].ts);
      assert.equal(p.ifIndex, expected[i].ifIndex);
      assert.equal(p.linkType, expected[i].ifIndex === 0 ? "ethernet" : "sll");
      assert.deepEqual(p.data, expected[i].data);
    });
    const t = tsharkSv(out);
    assert.equal(t.length, expected.length);
    assert.equal(t[0], "MU857SJ85Mod2MU103\t0");
    assert.equal(t[1], "PhsMeas1\t0");
    const times = execFileSync("tshark", ["-r", out, "-T", "fields", "-e", "frame.time_epoch", "-c", "2"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    assert.equal(times, "1700000000.000000000\n1700000000.000000001\n");
    assert.throws(() => w.write(1n, new Uint8Array(1), 1, 5), /no interface 5/);
  });
});

describe("PcapngWriter and tcpdump", () => {
  test("tcpdump reads a written pcapng (two Ethernet interfaces; libpcap cannot mix link types in one file)", () => {
    const eth = readAll(capture("guseynov_pcapMissed_studenttool_gap.pcap"));
    const out = join(tmp, "two-eth.pcapng");
    const w = new PcapngWriter(out, { interfaces: [{ name: "pub0" }, { name: "sub0" }] });
    for (let i = 0; i < eth.length; i++) w.write(eth[i].tsNs, eth[i].data, eth[i].origLen, i % 2);
    w.close();
    const td = execFileSync("tcpdump", ["-nn", "-e", "-r", out], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    })
      .split("\n")
      .filter((l) => l.length > 0 && !l.startsWith("\t"));
    assert.equal(td.length, eth.length);
    assert.match(td[0], /b0:be:76:8c:d6:a6 > 3c:a0:67:36:96:76/);
    assert.deepEqual(
      readAll(out).map((p) => p.ifIndex),
      eth.map((_, i) => i % 2),
    );
  });
});

describe("streaming", () => {
  test("reading a 200k-packet file does not grow memory; every packet is seen in order", () => {
    const frame = readAll(capture("mgadelha_sv_normal_traffic_60hz_vlan.pcap"))[0].data;
    const out = join(tmp, "big.pcap");
    const N = 200_000;
    const w = new PcapWriter(out);
    const t0 = 1_600_000_000_000_000_000n;
    for (let i = 0; i < N; i++) {
      frame[44] = (i >> 8) & 0xff; // smpCnt bytes of this frame (offset 43..44)
      frame[43] = (i >> 16) & 0xff;
      w.write(t0 + BigInt(i) * 208_333n, frame);
    }
    w.close();
    const size = statSync(out).size;
    assert.equal(size, 24 + N * (16 + frame.length));
    const before = process.memoryUsage();
    let n = 0;
    let peakBuffers = 0;
    let peakRss = 0;
    let prev = -1n;
    for (const p of readPackets(out)) {
      n++;
      assert.ok(p.tsNs > prev);
      prev = p.tsNs;
      if ((n & 0x3fff) === 0) {
        const m = process.memoryUsage();
        peakBuffers = Math.max(peakBuffers, m.arrayBuffers - before.arrayBuffers);
        peakRss = Math.max(peakRss, m.rss - before.rss);
      }
    }
    assert.equal(n, N);
    // the file is ~27 MB; the reader holds one 1 MiB buffer and hands out views into it
    assert.ok(
      peakBuffers < 4 * 1024 * 1024,
      `buffers grew by ${peakBuffers} bytes reading a ${size}-byte file`,
    );
    assert.ok(peakRss < size, `RSS grew by ${peakRss} bytes reading a ${size}-byte file`);
  });
});
