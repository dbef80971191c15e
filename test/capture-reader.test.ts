/**
 * Capture reader: every shared capture against tshark's reference (count, timestamps, lengths, link type);
 * editcap-made variants (pcapng, nanosecond pcap); hand-built big-endian pcap and pcapng with several
 * interfaces, decimal and binary if_tsresol, SPB, obsolete PB and unknown blocks, checked against tshark;
 * truncated files; one-line errors for missing, empty, directory and non-capture files.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { CaptureError, captureFsError } from "../src/capture/errors.js";
import { captureFormat, readPackets } from "../src/capture/reader.js";
import { formatEpochNs, formatIsoNs } from "../src/capture/time.js";
import type { CapturedPacket } from "../src/capture/types.js";
import { capture, capturesDir } from "./helpers.js";

interface Ref {
  frame: number;
  time_epoch: string;
  frame_len: number;
  cap_len: number;
  link: string;
}

function refFrames(stem: string): Map<number, Ref> {
  const out = new Map<number, Ref>();
  const text = gunzipSync(readFileSync(join(capturesDir, `${stem}.ref.jsonl.gz`))).toString("utf8");
  for (const line of text.split("\n")) {
    if (!line) continue;
    const r = JSON.parse(line) as Ref;
    out.set(r.frame, r);
  }
  return out;
}

/** Copy each packet out (data is only valid until the next one). */
function readAll(path: string): CapturedPacket[] {
  const out: CapturedPacket[] = [];
  for (const p of readPackets(path)) out.push({ ...p, data: p.data.slice() });
  return out;
}

/** tshark's view of a file: time_epoch, interface id, cap len, frame len per frame. */
function tsharkFrames(path: string): { time: string; ifId: string; capLen: number; len: number }[] {
  const out = execFileSync(
    "tshark",
    [
      "-r",
      path,
      "-T",
      "fields",
      "-e",
      "frame.time_epoch",
      "-e",
      "frame.interface_id",
      "-e",
      "frame.cap_len",
      "-e",
      "frame.len",
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  return out
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const [time, ifId, capLen, len] = l.split("\t");
      return { time, ifId, capLen: Number(capLen), len: Number(len) };
    });
}

let tmp = "";
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "svtrace-h2-reader-"));
});
after(() => {
  if (tmp && !process.env.H2_KEEP) rmSync(tmp, { recursive: true, force: true });
});

describe("every shared capture reads like tshark's reference", () => {
  const files = readdirSync(capturesDir).filter((f) => /\.pcap(ng)?$/.test(f));
  test("captures present", () => assert.ok(files.length >= 10));
  for (const f of files) {
    test(f, () => {
      const stem = f.replace(/\.pcap(ng)?$/, "");
      const summary = JSON.parse(readFileSync(join(capturesDir, `${stem}.summary.json`), "utf8")) as {
        frames_total: number;
      };
      const refs = refFrames(stem);
      let n = 0;
      for (const p of readPackets(capture(f))) {
        n++;
        assert.equal(p.index, n);
        const r = refs.get(p.index);
        if (!r) continue;
        assert.equal(formatEpochNs(p.tsNs), r.time_epoch, `frame ${p.index} time`);
        assert.equal(p.data.length, r.cap_len, `frame ${p.index} cap_len`);
        assert.equal(p.origLen, r.frame_len, `frame ${p.index} frame_len`);
        assert.equal(p.linkType, r.link === "eth" ? "ethernet" : r.link);
      }
      assert.equal(n, summary.frames_total);
    });
  }
});

describe("editcap-made variants read the same packets", () => {
  const src = "mgadelha_sv_normal_traffic_60hz_vlan.pcap";
  const variants: [string, string[], string][] = [
    ["pcapng (µs if_tsresol default)", ["-F", "pcapng"], "pcapng"],
    ["pcapng with a capture comment", ["-F", "pcapng", "--capture-comment", "h2 test comment"], "pcapng"],
    ["nanosecond pcap", ["-F", "nsecpcap"], "pcap-ns"],
  ];
  for (const [label, args, fmt] of variants) {
    test(label, () => {
      const out = join(tmp, `variant-${label.replace(/\W+/g, "_")}`);
      execFileSync("editcap", [...args, capture(src), out], { stdio: ["ignore", "pipe", "pipe"] });
      assert.equal(captureFormat(out), fmt);
      const a = readAll(capture(src));
      const b = readAll(out);
      assert.equal(b.length, a.length);
      for (let i = 0; i < a.length; i++) {
        assert.equal(b[i].tsNs, a[i].tsNs, `packet ${i + 1} time`);
        assert.deepEqual(b[i].data, a[i].data, `packet ${i + 1} bytes`);
      }
    });
  }

  test("nanosecond pcapng (editcap -F pcapng of a nanosecond pcap: if_tsresol 9)", () => {
    const ns = join(tmp, "ns.pcap");
    const ng = join(tmp, "ns.pcapng");
    execFileSync("editcap", ["-F", "nsecpcap", capture(src), ns], { stdio: ["ignore", "pipe", "pipe"] });
    execFileSync("editcap", ["-F", "pcapng", ns, ng], { stdio: ["ignore", "pipe", "pipe"] });
    const raw = readFileSync(ng);
    assert.ok(raw.includes(Buffer.from([9, 0, 1, 0, 9])), "the IDB carries if_tsresol = 9");
    const a = readAll(capture(src));
    const b = readAll(ng);
    assert.equal(b.length, a.length);
    assert.deepEqual(
      b.map((p) => p.tsNs),
      a.map((p) => p.tsNs),
    );
    const t = tsharkFrames(ng);
    assert.equal(t[100].time, formatEpochNs(b[100].tsNs));
  });
});

// ---- hand-built files -------------------------------------------------------------------------------------

function u16(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}
function u32(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}
function pad(b: Buffer): Buffer {
  return Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
}
function block(type: number, body: Buffer, le: boolean): Buffer {
  const p = pad(body);
  const total = 12 + p.length;
  return Buffer.concat([u32(type, le), u32(total, le), p, u32(total, le)]);
}
function shb(le: boolean): Buffer {
  return block(
    0x0a0d0d0a,
    Buffer.concat([
      u32(0x1a2b3c4d, le),
      u16(1, le),
      u16(0, le),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ]),
    le,
  );
}
function idb(linkType: number, tsresol: number | undefined, le: boolean, tsoffsetS?: bigint): Buffer {
  const opts: Buffer[] = [];
  if (tsresol !== undefined) opts.push(u16(9, le), u16(1, le), pad(Buffer.from([tsresol])));
  if (tsoffsetS !== undefined) {
    const o = Buffer.alloc(8);
    if (le) o.writeBigInt64LE(tsoffsetS);
    else o.writeBigInt64BE(tsoffsetS);
    opts.push(u16(14, le), u16(8, le), o);
  }
  opts.push(u16(0, le), u16(0, le));
  return block(1, Buffer.concat([u16(linkType, le), u16(0, le), u32(65535, le), ...opts]), le);
}
function epb(ifId: number, units: bigint, data: Buffer, le: boolean): Buffer {
  const hi = Number(units >> 32n);
  const lo = Number(units & 0xffffffffn);
  return block(
    6,
    Buffer.concat([
      u32(ifId, le),
      u32(hi, le),
      u32(lo, le),
      u32(data.length, le),
      u32(data.length, le),
      data,
    ]),
    le,
  );
}
function spb(data: Buffer, le: boolean): Buffer {
  return block(3, Buffer.concat([u32(data.length, le), data]), le);
}
function obsoletePb(ifId: number, units: bigint, data: Buffer, le: boolean): Buffer {
  return block(
    2,
    Buffer.concat([
      u16(ifId, le),
      u16(0, le),
      u32(Number(units >> 32n), le),
      u32(Number(units & 0xffffffffn), le),
      u32(data.length, le),
      u32(data.length, le),
      data,
    ]),
    le,
  );
}

/** A few real SV frames to carry. */
function realFrames(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const p of readPackets(capture("mgadelha_sv_normal_traffic_60hz_vlan.pcap"))) {
    out.push(Buffer.from(p.data));
    if (out.length === n) break;
  }
  return out;
}

/** Classic pcap with the given magic, byte order, from the mgadelha frames. */
function classicPcap(le: boolean, nano: boolean, frames: Buffer[], tsNs: bigint[]): Buffer {
  const parts = [
    u32(nano ? 0xa1b23c4d : 0xa1b2c3d4, le),
    u16(2, le),
    u16(4, le),
    u32(0, le),
    u32(0, le),
    u32(65535, le),
    u32(1, le),
  ];
  frames.forEach((f, i) => {
    const sec = tsNs[i] / 1_000_000_000n;
    const ns = Number(tsNs[i] % 1_000_000_000n);
    parts.push(
      u32(Number(sec), le),
      u32(nano ? ns : Math.floor(ns / 1000), le),
      u32(f.length, le),
      u32(f.length, le),
      f,
    );
  });
  return Buffer.concat(parts);
}

describe("classic pcap: both magics, both byte orders", () => {
  const frames = realFrames(5);
  const ts = [1700000000123456789n, 1700000000123457000n, 1700000001000000001n, 1700000001999999999n, 5n];
  for (const le of [true, false]) {
    for (const nano of [true, false]) {
      test(`${le ? "little" : "big"}-endian, ${nano ? "ns" : "µs"}`, () => {
        const path = join(tmp, `classic-${le}-${nano}.pcap`);
        writeFileSync(path, classicPcap(le, nano, frames, ts));
        assert.equal(captureFormat(path), nano ? "pcap-ns" : "pcap");
        const got = readAll(path);
        assert.equal(got.length, frames.length);
        got.forEach((p, i) => {
          const want = nano ? ts[i] : (ts[i] / 1000n) * 1000n;
          assert.equal(p.tsNs, want);
          assert.deepEqual(Buffer.from(p.data), frames[i]);
          assert.equal(p.linkType, "ethernet");
        });
        // tshark agrees on the timestamps
        const t = tsharkFrames(path);
        assert.deepEqual(
          t.map((x) => x.time),
          got.map((p) => formatEpochNs(p.tsNs)),
        );
      });
    }
  }
});

describe("pcapng: several interfaces, if_tsresol, SPB, PB, unknown blocks, both byte orders", () => {
  const frames = realFrames(4);
  for (const le of [true, false]) {
    test(`${le ? "little" : "big"}-endian`, () => {
      const parts = [
        shb(le),
        idb(1, undefined, le), // if 0: default µs
        idb(1, 9, le), // if 1: ns
        idb(113, 3, le), // if 2: ms, SLL
        idb(1, 0x80 | 20, le), // if 3: 2^-20 s
        block(0x00000bad, Buffer.from("custom block to skip"), le),
        epb(0, 1700000000123456n, frames[0], le),
        epb(1, 1700000000123456789n, frames[1], le),
        epb(2, 1700000000123n, frames[2], le),
        epb(3, (1700000000n << 20n) + 524288n + 1n, frames[3], le), // .5 s + 2^-20 s
        block(5, Buffer.alloc(20), le), // ISB: skipped
        obsoletePb(1, 1700000002000000000n, frames[0], le),
        spb(frames[1], le), // no timestamp: keeps the previous
      ];
      const path = join(tmp, `multi-${le}.pcapng`);
      writeFileSync(path, Buffer.concat(parts));
      const got = readAll(path);
      assert.equal(got.length, 6);
      assert.deepEqual(
        got.map((p) => p.ifIndex),
        [0, 1, 2, 3, 1, 0],
      );
      assert.deepEqual(
        got.map((p) => p.linkType),
        ["ethernet", "ethernet", "sll", "ethernet", "ethernet", "ethernet"],
      );
      assert.deepEqual(
        got.map((p) => p.tsNs),
        [
          1700000000123456000n,
          1700000000123456789n,
          1700000000123000000n,
          1700000000500000953n, // floor((2^19 + 1) * 1e9 / 2^20) = 500000953
          1700000002000000000n,
          1700000002000000000n,
        ],
      );
      assert.deepEqual(Buffer.from(got[5].data), frames[1]);
      // tshark reads the same timestamps and interface ids. tshark 4.0 lists the unknown block as a record with
      // no time and no interface (dropped here) and shows no time for the SPB (not compared).
      const t = tsharkFrames(path).filter((x) => x.time !== "" || x.ifId !== "");
      assert.equal(t.length, 6);
      for (let i = 0; i < 5; i++) {
        assert.equal(t[i].time, formatEpochNs(got[i].tsNs), `frame ${i + 1} time vs tshark`);
        assert.equal(Number(t[i].ifId), got[i].ifIndex, `frame ${i + 1} interface vs tshark`);
        assert.equal(t[i].capLen, got[i].data.length);
      }
    });
  }

  test("if_tsoffset (seconds added to every timestamp) in both byte orders; tshark agrees", () => {
    const f = realFrames(1);
    for (const le of [true, false]) {
      const path = join(tmp, `tsoffset-${le}.pcapng`);
      writeFileSync(
        path,
        Buffer.concat([shb(le), idb(1, 9, le, 1_600_000_000n), epb(0, 123_456_789n, f[0], le)]),
      );
      const [p] = readAll(path);
      assert.equal(p.tsNs, 1_600_000_000_123_456_789n);
      assert.equal(tsharkFrames(path)[0].time, "1600000000.123456789");
    }
  });

  test("two sections with different byte orders in one file", () => {
    const f = realFrames(2);
    const path = join(tmp, "two-sections.pcapng");
    writeFileSync(
      path,
      Buffer.concat([
        shb(true),
        idb(1, 9, true),
        epb(0, 10n, f[0], true),
        shb(false),
        idb(113, 6, false),
        epb(0, 20n, f[1], false),
      ]),
    );
    const got = readAll(path);
    assert.deepEqual(
      got.map((p) => [p.tsNs, p.linkType]),
      [
        [10n, "ethernet"],
        [20000n, "sll"],
      ],
    );
  });
});

describe("truncated files and bad input", () => {
  test("a pcap cut inside the last packet yields the complete ones and warns", () => {
    const whole = readFileSync(capture("guseynov_pcapMissed_studenttool_gap.pcap"));
    const path = join(tmp, "cut.pcap");
    writeFileSync(path, whole.subarray(0, whole.length - 10));
    const warnings: string[] = [];
    const n = [...readPackets(path, { onWarning: (w) => warnings.push(w) })].length;
    assert.equal(n, 72);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /ends inside packet 73/);
  });

  test("a pcapng cut inside a block yields the complete ones and warns", () => {
    const whole = readFileSync(capture("robidev_docker_sll_refrTm_4frames.pcapng"));
    const path = join(tmp, "cut.pcapng");
    writeFileSync(path, whole.subarray(0, whole.length - 30));
    const warnings: string[] = [];
    const got = [...readPackets(path, { onWarning: (w) => warnings.push(w) })].length;
    assert.ok(got < 4 && got >= 2, `got ${got}`);
    assert.equal(warnings.length, 1);
  });

  const cases: [string, () => string, RegExp][] = [
    ["missing file", () => join(tmp, "nope.pcap"), /no such file; check the path/],
    [
      "directory",
      () => {
        const d = join(tmp, "adir");
        mkdirSync(d, { recursive: true });
        return d;
      },
      /is a directory/,
    ],
    [
      "empty file",
      () => {
        const p = join(tmp, "empty.pcap");
        writeFileSync(p, "");
        return p;
      },
      /empty/,
    ],
    [
      "text file",
      () => {
        const p = join(tmp, "notes.txt");
        writeFileSync(p, "hello, this is not a capture\n");
        return p;
      },
      /not a pcap or pcapng capture/,
    ],
    [
      "gzip file",
      () => capture("robidev_docker_sll_refrTm_4frames.ref.jsonl.gz"),
      /gzip-compressed; decompress it first/,
    ],
    [
      "pcap header only, cut",
      () => {
        const p = join(tmp, "short.pcap");
        writeFileSync(p, readFileSync(capture("guseynov_pcapMissed_studenttool_gap.pcap")).subarray(0, 10));
        return p;
      },
      /truncated pcap global header/,
    ],
    [
      "corrupt pcapng block length",
      () => {
        const p = join(tmp, "corrupt.pcapng");
        const b = Buffer.from(readFileSync(capture("robidev_docker_sll_refrTm_4frames.pcapng")));
        const shbLen = b.readUInt32LE(4);
        b.writeUInt32LE(7, shbLen + 4); // IDB length not a multiple of 4
        writeFileSync(p, b);
        return p;
      },
      /bad pcapng block length 7/,
    ],
  ];
  for (const [label, make, re] of cases) {
    test(label, () => {
      const path = make();
      assert.throws(
        () => {
          for (const _ of readPackets(path)) {
            // drain
          }
        },
        (err: unknown) => {
          assert.ok(err instanceof CaptureError, `CaptureError expected, got ${String(err)}`);
          assert.match(err.message, re);
          assert.ok(!err.message.includes("\n"), "one line");
          assert.ok(err.message.startsWith(path), "names the file");
          return true;
        },
      );
    });
  }

  test("unreadable file (permission denied) when not root; as root, chmod 000 is still readable", () => {
    const p = join(tmp, "locked.pcap");
    writeFileSync(p, readFileSync(capture("guseynov_pcapMissed_studenttool_gap.pcap")));
    execFileSync("chmod", ["000", p]);
    if (process.getuid?.() === 0) {
      // root bypasses permissions: the file reads fine; the EACCES mapping is checked directly
      assert.equal([...readPackets(p)].length, 73);
      const e = captureFsError(p, Object.assign(new Error("EACCES"), { code: "EACCES" }));
      assert.match(e.message, /permission denied/);
    } else {
      assert.throws(() => [...readPackets(p)], /permission denied/);
    }
  });
});

describe("time formatting", () => {
  test("epoch and ISO", () => {
    assert.equal(formatEpochNs(1594858030059560000n), "1594858030.059560000");
    assert.equal(formatEpochNs(1000001000n), "1.000001000");
    assert.equal(formatIsoNs(1594858030059560123n), "2020-07-16T00:07:10.059560123Z");
    assert.equal(formatIsoNs(1594858030999999999n), "2020-07-16T00:07:10.999999999Z");
    assert.equal(formatIsoNs(1594858031000000000n), "2020-07-16T00:07:11.000000000Z");
    assert.equal(formatIsoNs(-1n), "1969-12-31T23:59:59.999999999Z");
    assert.equal(formatIsoNs(0n), "1970-01-01T00:00:00.000000000Z");
  });
});
