/**
 * Decode benchmark: generates a pcap of >= 1 000 000 SV frames (8 streams, 9-2LE, VLAN-tagged) with the SV
 * encoder and the pcap writer, then times svtrace's read + full decodeFrame (svID and smpCnt of every frame)
 * against `tshark -r FILE -T fields -e sv.svID -e sv.smpCnt` on the same file, and prints frames/s and the ratio.
 * Options: --frames=N (default 1000000), --keep (keep the generated file and print its path).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { PcapWriter } from "../src/capture/pcap-writer.js";
import { readPackets } from "../src/capture/reader.js";
import { encodeDataset } from "../src/sv/dataset.js";
import { decodeFrame, peekSvKey } from "../src/sv/decode.js";
import { encodeFrameWithLayout } from "../src/sv/encode.js";
import type { Bench } from "./run.js";

const STREAMS = 8;

function generate(path: string, frames: number): void {
  const templates = [];
  for (let s = 0; s < STREAMS; s++) {
    const values = [1000 + s, -500, -500, 0, 6_350_000, -3_175_000, -3_175_000, 0];
    templates.push(
      encodeFrameWithLayout({
        dst: `01:0c:cd:04:00:${(s + 1).toString(16).padStart(2, "0")}`,
        src: `02:00:00:00:00:${(s + 1).toString(16).padStart(2, "0")}`,
        vlan: { pcp: 4, dei: false, vid: 100 },
        pdu: {
          appid: 0x4000 + s,
          length: 0,
          reserved1: 0,
          reserved2: 0,
          noASDU: 1,
          asdus: [
            {
              svID: `BENCH_MU${String(s + 1).padStart(2, "0")}`,
              smpCnt: 0,
              confRev: 1,
              smpSynch: 2,
              seqData: encodeDataset(values, [0, 0, 0, 0x2000, 0, 0, 0, 0x2000]),
            },
          ],
        },
      }),
    );
  }
  const w = new PcapWriter(path);
  try {
    let ts = 1_764_000_000_000_000_000n;
    for (let i = 0; i < frames; i++) {
      const s = i % STREAMS;
      const t = templates[s];
      const smpCnt = Math.floor(i / STREAMS) % 4800;
      t.bytes[t.asdus[0].smpCnt] = smpCnt >>> 8;
      t.bytes[t.asdus[0].smpCnt + 1] = smpCnt & 0xff;
      w.write(ts, t.bytes);
      if (s === STREAMS - 1) ts += 208_333n;
    }
  } finally {
    w.close();
  }
}

/** read only: the floor under any decoder that reads this file */
interface Run {
  n: number;
  /** wall seconds */
  s: number;
  /** CPU seconds (user + system), or NaN when unknown */
  cpu: number;
}

function cpuSince(c0: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(c0);
  return (u.user + u.system) / 1e6;
}

/** read only: the floor under any decoder that reads this file */
function readOnly(path: string): Run {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let n = 0;
  for (const p of readPackets(path)) if (p.data.length > 0) n++;
  return { n, s: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpuSince(c0) };
}

function ours(path: string): Run {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let n = 0;
  let check = 0;
  for (const p of readPackets(path)) {
    if (p.linkType === "other") continue;
    const r = decodeFrame(p.data, p.linkType);
    if (r.kind !== "sv") continue;
    const a = r.frame.pdu.asdus[0];
    if (a === undefined) continue;
    n++;
    check += a.smpCnt + a.svID.length;
  }
  if (check < 0) n = -1; // keep the reads observable
  return { n, s: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpuSince(c0) };
}

/** the fast path: read + peekSvKey (svID and smpCnt of the first ASDU, no frame object) */
function oursPeek(path: string): Run {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let n = 0;
  let check = 0;
  for (const p of readPackets(path)) {
    if (p.linkType === "other") continue;
    const k = peekSvKey(p.data, p.linkType);
    if (k === undefined) continue;
    n++;
    check += k.smpCnt + k.svID.length;
  }
  if (check < 0) n = -1;
  return { n, s: Number(process.hrtime.bigint() - t0) / 1e9, cpu: cpuSince(c0) };
}

/** tshark's wall time, and its CPU time from GNU time (-o FILE) when /usr/bin/time exists */
function tshark(path: string, dir: string): Promise<Run> {
  const timeFile = join(dir, "tshark.time");
  const useTime = existsSync("/usr/bin/time");
  const targs = ["-r", path, "-T", "fields", "-e", "sv.svID", "-e", "sv.smpCnt"];
  const [cmd, args] = useTime
    ? ["/usr/bin/time", ["-o", timeFile, "-f", "%U %S", "tshark", ...targs]]
    : ["tshark", targs];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "ignore"] });
    let lines = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
    });
    child.on("error", (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.on("close", (code) => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`tshark exited with ${code}`));
      let cpu = Number.NaN;
      if (useTime) {
        const m = /([\d.]+) ([\d.]+)\s*$/.exec(readFileSync(timeFile, "utf8"));
        if (m) cpu = Number(m[1]) + Number(m[2]);
      }
      resolve({ n: lines, s, cpu });
    });
  });
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US");

export const bench: Bench = {
  name: "decode",
  title: "SV decode rate (read + decodeFrame) against tshark -T fields -e sv.svID -e sv.smpCnt",
  async run(args) {
    const framesArg = args.find((a) => a.startsWith("--frames="));
    const frames = framesArg ? Number(framesArg.slice("--frames=".length)) : 1_000_000;
    if (!Number.isInteger(frames) || frames < 1)
      throw new Error(`--frames must be a positive integer: ${framesArg}`);
    const keep = args.includes("--keep");
    const dir = mkdtempSync(join(tmpdir(), "svtrace-bench-decode-"));
    const file = join(dir, "sv-bench.pcap");
    try {
      const g0 = process.hrtime.bigint();
      generate(file, frames);
      const gs = Number(process.hrtime.bigint() - g0) / 1e9;
      const size = statSync(file).size;
      process.stdout.write(
        `generated ${fmt(frames)} frames, ${STREAMS} streams, ${(size / 1e6).toFixed(1)} MB in ${gs.toFixed(2)} s (${fmt(frames / gs)} frames/s)\n`,
      );
      ours(file); // warm-up (JIT, page cache)
      const ro = readOnly(file);
      const runs = [ours(file), ours(file), ours(file)];
      const best = runs.reduce((x, y) => (y.s < x.s ? y : x));
      const bestCpu = runs.reduce((x, y) => (y.cpu < x.cpu ? y : x));
      oursPeek(file);
      const peek = oursPeek(file);
      const ts = await tshark(file, dir);
      const rate = (r: Run, t: number) => r.n / t;
      const out = (l: string) => process.stdout.write(`${l}\n`);
      out(
        `load average: ${loadavg()
          .map((x) => x.toFixed(1))
          .join(" ")} on ${cpus().length} CPUs (wall times suffer from it, CPU times less)`,
      );
      out(`                              wall frames/s        CPU frames/s`);
      out(
        `read only (pcap reader):      ${fmt(rate(ro, ro.s)).padStart(12)}   ${fmt(rate(ro, ro.cpu)).padStart(16)}`,
      );
      out(
        `svtrace read + decodeFrame:   ${fmt(rate(best, best.s)).padStart(12)}   ${fmt(rate(bestCpu, bestCpu.cpu)).padStart(16)}   (best of 3; wall ${runs.map((r) => r.s.toFixed(3)).join(" / ")} s)`,
      );
      out(
        `svtrace read + peekSvKey:     ${fmt(rate(peek, peek.s)).padStart(12)}   ${fmt(rate(peek, peek.cpu)).padStart(16)}   (fast path, for reference)`,
      );
      out(
        `tshark -T fields:             ${fmt(rate(ts, ts.s)).padStart(12)}   ${Number.isNaN(ts.cpu) ? "n/a".padStart(16) : fmt(rate(ts, ts.cpu)).padStart(16)}   (wall ${ts.s.toFixed(2)} s)`,
      );
      const wallRatio = rate(best, best.s) / rate(ts, ts.s);
      const cpuRatio = rate(bestCpu, bestCpu.cpu) / rate(ts, ts.cpu);
      out(
        `ratio svtrace / tshark:       ${`${wallRatio.toFixed(1)}x`.padStart(12)}   ${Number.isNaN(cpuRatio) ? "n/a".padStart(16) : `${cpuRatio.toFixed(1)}x`.padStart(16)}   (target >= 50x)`,
      );
      const same = best.n === ts.n && best.n === frames;
      out(
        `SV frames seen: svtrace ${fmt(best.n)}, tshark ${fmt(ts.n)}, generated ${fmt(frames)}: ${same ? "same" : "DIFFERENT"}`,
      );
      if (!same) process.exitCode = 1;
      if (keep) process.stdout.write(`kept ${file}\n`);
    } finally {
      if (!keep) rmSync(dir, { recursive: true, force: true });
    }
  },
};
