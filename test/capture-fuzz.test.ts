/**
 * Capture reader robustness: thousands of mutated real pcap and pcapng files (byte flips, header and length
 * fields off by small amounts, truncation). Every run either ends normally or raises a CaptureError (the
 * one-line user error); nothing else escapes, and no packet view lies outside its file.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CaptureError } from "../src/capture/errors.js";
import { readPackets } from "../src/capture/reader.js";
import { capture } from "./helpers.js";

/** xorshift32: reproducible mutations (the seed is printed on failure) */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

let tmp = "";
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "svtrace-h2-fuzz-"));
});
after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function mutate(orig: Buffer, r: () => number): Buffer {
  const b = Buffer.from(orig);
  const kind = Math.floor(r() * 4);
  const at = (n: number) => Math.floor(r() * Math.max(1, n));
  if (kind === 0) {
    const flips = 1 + at(8);
    for (let i = 0; i < flips; i++) b[at(b.length)] ^= 1 << at(8);
    return b;
  }
  if (kind === 1) {
    // a 32-bit field near the start of the file (headers, first records) gets a small or a wild value
    const off = at(Math.min(b.length - 4, 256)) & ~3;
    const v = b.readUInt32LE(off);
    const delta = r() < 0.5 ? 1 + at(255) : at(0x7fffffff);
    b.writeUInt32LE((v + (r() < 0.5 ? delta : -delta)) >>> 0, off);
    return b;
  }
  if (kind === 2) return b.subarray(0, at(b.length));
  // a 32-bit field anywhere
  const off = at(b.length - 4);
  b.writeUInt32LE(Math.floor(r() * 4294967296) >>> 0, off);
  return b;
}

describe("mutated captures never throw anything but CaptureError", () => {
  const inputs: [string, () => Buffer][] = [
    ["pcap µs", () => readFileSync(capture("guseynov_pcapMissed_studenttool_gap.pcap"))],
    ["pcapng SLL", () => readFileSync(capture("robidev_docker_sll_refrTm_4frames.pcapng"))],
    [
      "pcapng from editcap (first 40 packets)",
      () => {
        const out = join(tmp, "src.pcapng");
        execFileSync("editcap", [
          "-F",
          "pcapng",
          "-r",
          capture("mgadelha_sv_normal_traffic_60hz_vlan.pcap"),
          out,
          "1-40",
        ]);
        return readFileSync(out);
      },
    ],
    [
      "pcap ns (first 40 packets)",
      () => {
        const out = join(tmp, "src-ns.pcap");
        execFileSync("editcap", [
          "-F",
          "nsecpcap",
          "-r",
          capture("handset_dt6000_sv92_test_50hz_12ch_vlan0.pcap"),
          out,
          "1-40",
        ]);
        return readFileSync(out);
      },
    ],
  ];
  for (const [label, load] of inputs) {
    test(label, () => {
      const orig = load();
      const path = join(tmp, `m-${label.replace(/\W+/g, "_")}`);
      let ended = 0;
      let rejected = 0;
      const RUNS = 1000;
      for (let i = 0; i < RUNS; i++) {
        const seed = 0x9e3779b9 ^ (i * 2654435761);
        const m = mutate(orig, rng(seed));
        writeFileSync(path, m);
        try {
          let n = 0;
          for (const p of readPackets(path, { bufferSize: 4096 })) {
            n++;
            assert.ok(p.data.length <= m.length, `seed ${seed}: packet larger than the file`);
            assert.equal(typeof p.tsNs, "bigint");
            if (n > m.length) assert.fail(`seed ${seed}: more packets than bytes`);
          }
          ended++;
        } catch (err) {
          if (!(err instanceof CaptureError))
            assert.fail(`seed ${seed} (${label}, run ${i}): ${String((err as Error)?.stack ?? err)}`);
          assert.ok(!err.message.includes("\n"));
          rejected++;
        }
      }
      assert.equal(ended + rejected, RUNS);
      assert.ok(ended > 0 && rejected > 0, `both outcomes seen (ended ${ended}, rejected ${rejected})`);
    });
  }
});
