/**
 * Decode benchmark: generates a pcap of >= 1 000 000 SV frames (8 streams, 9-2LE, VLAN-tagged) with the SV
 * encoder and the pcap writer, then times svtrace's read from disk + full decodeFrame (every field of every ASDU)
 * against `tshark -r FILE -T fields -e sv.svID -e sv.smpCnt` on the same file, and prints frames/s (wall and CPU)
 * and the ratios. The machine is shared, so both sides run several times in alternating rounds and each side's
 * best is compared; both must report the same frames and the same svID/smpCnt checksum.
 * Then the commands a user types, whole processes with start-up, in alternating rounds on the same files:
 * `svtrace streams FILE --json` beside `tshark -T fields -e sv.svID -e sv.smpCnt` (the issue's 50x target), and
 * `svtrace decode FILE --json` beside `tshark -T json` on a smaller file (--json-frames, tshark -T json is slow).
 * Options: --frames=N (default 1000000), --rounds=N (default 2: tshark runs), --runs=N (svtrace runs per round,
 * default 3), --json-frames=N (default 100000), --keep (keep the generated files and print their paths).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PcapWriter } from "../src/capture/pcap-writer.js";
import { readPackets } from "../src/capture/reader.js";
import { encodeDataset } from "../src/sv/dataset.js";
import { decodeFrame, peekSvKey } from "../src/sv/decode.js";
import { encodeFrameWithLayout } from "../src/sv/encode.js";
import { median } from "./median.js";
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

/** one timed pass over the file */
interface Run {
  /** SV frames seen (lines printed, for tshark) */
  n: number;
  /** wall seconds */
  s: number;
  /** CPU seconds (user + system), or NaN when unknown */
  cpu: number;
  /** sum of smpCnt + svID length over every ASDU: svtrace and tshark must agree on it */
  check: number;
}

function timed(pass: () => { n: number; check: number }): Run {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const { n, check } = pass();
  const u = process.cpuUsage(c0);
  return { n, check, s: Number(process.hrtime.bigint() - t0) / 1e9, cpu: (u.user + u.system) / 1e6 };
}

/** read only: the floor under any decoder that reads this file */
function readOnly(path: string): Run {
  return timed(() => {
    let n = 0;
    for (const p of readPackets(path)) if (p.data.length > 0) n++;
    return { n, check: 0 };
  });
}

/** what `svtrace decode` does per packet: read it, decodeFrame (every field of every ASDU) */
function ours(path: string): Run {
  return timed(() => {
    let n = 0;
    let check = 0;
    for (const p of readPackets(path)) {
      if (p.linkType === "other") continue;
      const r = decodeFrame(p.data, p.linkType);
      if (r.kind !== "sv") continue;
      n++;
      const asdus = r.frame.pdu.asdus;
      for (let i = 0; i < asdus.length; i++) check += asdus[i].smpCnt + asdus[i].svID.length;
    }
    return { n, check };
  });
}

/** the fast path: read + peekSvKey (svID and smpCnt of the first ASDU, no frame object) */
function oursPeek(path: string): Run {
  return timed(() => {
    let n = 0;
    let check = 0;
    for (const p of readPackets(path)) {
      if (p.linkType === "other") continue;
      const k = peekSvKey(p.data, p.linkType);
      if (k === undefined) continue;
      n++;
      check += k.smpCnt + k.svID.length;
    }
    return { n, check };
  });
}

/** Sums one tshark output line ("svID[,svID...]\tsmpCnt[,smpCnt...]") into the same check as ours(). */
function tsharkLineCheck(line: string): number {
  const tab = line.indexOf("\t");
  if (tab < 0) return Number.NaN;
  let sum = 0;
  for (const id of line.slice(0, tab).split(",")) sum += id.length;
  for (const c of line.slice(tab + 1).split(",")) sum += Number(c);
  return sum;
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
    let check = 0;
    let rest = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        lines++;
        check += tsharkLineCheck(line);
      }
    });
    child.on("error", (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.on("close", (code) => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`tshark exited with ${code}`));
      if (rest !== "") {
        lines++;
        check += tsharkLineCheck(rest);
      }
      let cpu = Number.NaN;
      if (useTime) {
        const m = /([\d.]+) ([\d.]+)\s*$/.exec(readFileSync(timeFile, "utf8"));
        if (m) cpu = Number(m[1]) + Number(m[2]);
      }
      resolve({ n: lines, s, cpu, check });
    });
  });
}

/** A whole command's wall time, CPU time and peak RSS (GNU time) and its stdout's size in bytes. */
interface CommandRun {
  s: number;
  cpu: number;
  rssMb: number;
  bytes: number;
  stdout: string;
}

/** Runs a command as a user does (its own process, start-up included); keeps stdout when `keepOut`. */
function timeCommand(cmd: string, args: string[], dir: string, keepOut = false): Promise<CommandRun> {
  const timeFile = join(dir, "command.time");
  const useTime = existsSync("/usr/bin/time");
  const [c, a] = useTime ? ["/usr/bin/time", ["-o", timeFile, "-f", "%U %S %M", cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(c, a, { stdio: ["ignore", "pipe", "pipe"] });
    let bytes = 0;
    const kept: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (b: Buffer) => {
      bytes += b.length;
      if (keepOut) kept.push(b);
    });
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString();
    });
    child.on("error", (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.on("close", (code) => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}: ${err.trim()}`));
      let cpu = Number.NaN;
      let rssMb = Number.NaN;
      if (useTime) {
        const m = /([\d.]+) ([\d.]+) (\d+)\s*$/.exec(readFileSync(timeFile, "utf8"));
        if (m) {
          cpu = Number(m[1]) + Number(m[2]);
          rssMb = Number(m[3]) / 1024;
        }
      }
      resolve({ s, cpu, rssMb, bytes, stdout: Buffer.concat(kept).toString() });
    });
  });
}

const SVTRACE = fileURLToPath(new URL("../../bin/svtrace.js", import.meta.url));

/** `svtrace streams` and `decode --json` beside tshark, whole commands, alternating, `rounds` times each. */
async function wholeCommands(
  file: string,
  jsonFile: string,
  frames: number,
  jsonFrames: number,
  dir: string,
) {
  const out = (l: string) => process.stdout.write(`${l}\n`);
  const rounds = 3;
  const pairs = [
    {
      label: "streams",
      frames,
      ours: [process.execPath, [SVTRACE, "streams", file, "--json"]] as const,
      theirs: ["tshark", ["-r", file, "-T", "fields", "-e", "sv.svID", "-e", "sv.smpCnt"]] as const,
      target: 50,
    },
    {
      label: "decode --json",
      frames: jsonFrames,
      ours: [process.execPath, [SVTRACE, "decode", jsonFile, "--json"]] as const,
      theirs: ["tshark", ["-r", jsonFile, "-T", "json"]] as const,
      target: undefined,
    },
  ];
  out("");
  out(
    `whole commands, start-up included (${rounds} alternating rounds; best and median wall, best CPU, peak RSS):`,
  );
  for (const p of pairs) {
    const mine: CommandRun[] = [];
    const theirs: CommandRun[] = [];
    for (let r = 0; r < rounds; r++) {
      mine.push(await timeCommand(p.ours[0], [...p.ours[1]], dir, r === 0 && p.label === "streams"));
      theirs.push(await timeCommand(p.theirs[0], [...p.theirs[1]], dir));
    }
    if (p.label === "streams") {
      const seen = (JSON.parse(mine[0].stdout) as { svFrames: number }).svFrames;
      if (seen !== p.frames) {
        out(`svtrace streams saw ${seen} SV frames of ${p.frames}: WRONG`);
        process.exitCode = 1;
      }
    }
    const show = (who: string, rs: CommandRun[]) => {
      const walls = rs.map((r) => r.s);
      out(
        `  ${who.padEnd(58)} best ${Math.min(...walls).toFixed(3)} s  median ${median(walls).toFixed(3)} s  CPU ${Math.min(...rs.map((r) => r.cpu)).toFixed(3)} s  ${Math.max(...rs.map((r) => r.rssMb)).toFixed(0)} MB  (${(rs[0].bytes / 1e6).toFixed(1)} MB out)`,
      );
    };
    out(`${p.label} on ${fmt(p.frames)} frames:`);
    show(`svtrace ${p.ours[1].slice(1).join(" ").replace(dir, "DIR")}`, mine);
    show(`${p.theirs[0]} ${p.theirs[1].join(" ").replace(dir, "DIR")}`, theirs);
    const best = (rs: CommandRun[]) => Math.min(...rs.map((r) => r.s));
    const ratio = best(theirs) / best(mine);
    const med = median(theirs.map((r) => r.s)) / median(mine.map((r) => r.s));
    out(
      `  svtrace / tshark: ${ratio.toFixed(1)}x (best), ${med.toFixed(1)}x (median)${p.target ? `: target >= ${p.target}x, ${ratio >= p.target ? "PASS" : "FAIL"}` : ""}`,
    );
  }
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const bestWall = (runs: Run[]) => runs.reduce((x, y) => (y.s < x.s ? y : x));
const bestCpu = (runs: Run[]) => runs.reduce((x, y) => (y.cpu < x.cpu ? y : x));
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");

function intOption(args: string[], name: string, fallback: number): number {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return fallback;
  const v = Number(arg.slice(name.length + 3));
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer: ${arg}`);
  return v;
}

export const bench: Bench = {
  name: "decode",
  title: "SV decode rate (read + decodeFrame), and svtrace streams / decode --json as typed, against tshark",
  async run(args) {
    const frames = intOption(args, "frames", 1_000_000);
    // the machine is shared: each side runs several times, in rounds (one tshark run and `runs` svtrace runs
    // each), and the best wall and the best CPU time of each side are compared
    const rounds = intOption(args, "rounds", 2);
    const runs = intOption(args, "runs", 3);
    const keep = args.includes("--keep");
    const dir = mkdtempSync(join(tmpdir(), "svtrace-bench-decode-"));
    const file = join(dir, "sv-bench.pcap");
    const out = (l: string) => process.stdout.write(`${l}\n`);
    try {
      const g0 = process.hrtime.bigint();
      generate(file, frames);
      const gs = Number(process.hrtime.bigint() - g0) / 1e9;
      const size = statSync(file).size;
      out(
        `generated ${fmt(frames)} frames, ${STREAMS} streams, ${(size / 1e6).toFixed(1)} MB in ${gs.toFixed(2)} s (${fmt(frames / gs)} frames/s)`,
      );
      // tshark's start-up (dissector registration, ~0.3 s CPU) on a file of one frame per stream: svtrace's runs
      // leave out node's start-up and JIT warm-up, so the comparable tshark figure leaves out its start-up too
      const tiny = join(dir, "sv-startup.pcap");
      generate(tiny, STREAMS);
      const startup = [await tshark(tiny, dir), await tshark(tiny, dir), await tshark(tiny, dir)];
      const load0 = load();
      ours(file); // warm-up (JIT, page cache)
      const ro = [readOnly(file), readOnly(file)];
      const mine: Run[] = [];
      const theirs: Run[] = [];
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < runs; i++) mine.push(ours(file));
        theirs.push(await tshark(file, dir));
      }
      oursPeek(file);
      const peek = [oursPeek(file), oursPeek(file)];
      const rate = (r: Run, t: number) => r.n / t;
      const row = (label: string, w: Run, c: Run, note: string) =>
        out(
          `${label.padEnd(30)}${fmt(rate(w, w.s)).padStart(12)}   ${Number.isNaN(c.cpu) ? "n/a".padStart(16) : fmt(rate(c, c.cpu)).padStart(16)}   ${note}`,
        );
      out(
        `load average: ${load0} before, ${load()} after, on ${cpus().length} CPUs (wall times suffer from it, CPU times less)`,
      );
      out(`${"".padEnd(29)}wall frames/s       CPU frames/s`);
      row("read only (pcap reader):", bestWall(ro), bestCpu(ro), "(best of 2)");
      const wall = (rs: Run[]) => rs.map((r) => r.s.toFixed(3)).join(" / ");
      row(
        "svtrace read + decodeFrame:",
        bestWall(mine),
        bestCpu(mine),
        `(best of ${mine.length}; wall ${wall(mine)} s)`,
      );
      row("svtrace read + peekSvKey:", bestWall(peek), bestCpu(peek), "(fast path, for reference)");
      row(
        "tshark -T fields:",
        bestWall(theirs),
        bestCpu(theirs),
        `(best of ${theirs.length}; wall ${theirs.map((r) => r.s.toFixed(2)).join(" / ")} s)`,
      );
      // the smallest start-up seen is taken off (the least favourable to svtrace)
      const s0 = bestWall(startup).s;
      const c0 = bestCpu(startup).cpu;
      const net = theirs.map((r) => ({ ...r, s: r.s - s0, cpu: r.cpu - c0 }));
      row(
        "tshark, less its start-up:",
        bestWall(net),
        bestCpu(net),
        `(start-up ${s0.toFixed(2)} s wall, ${Number.isNaN(c0) ? "n/a" : c0.toFixed(2)} s CPU: best of ${startup.length} on ${STREAMS} frames)`,
      );
      const ratio = (label: string, them: Run[], note: string) => {
        const w = rate(bestWall(mine), bestWall(mine).s) / rate(bestWall(them), bestWall(them).s);
        const c = rate(bestCpu(mine), bestCpu(mine).cpu) / rate(bestCpu(them), bestCpu(them).cpu);
        out(
          `${label.padEnd(30)}${`${w.toFixed(1)}x`.padStart(12)}   ${Number.isNaN(c) ? "n/a".padStart(16) : `${c.toFixed(1)}x`.padStart(16)}   ${note}`,
        );
      };
      ratio(
        "ratio svtrace / tshark:",
        net,
        "(target >= 50x; tshark less its start-up, as svtrace's runs are)",
      );
      ratio("  same, whole tshark runs:", theirs, "(tshark start-up included)");
      out(
        `  (${rounds} round(s) of ${runs} svtrace runs then 1 tshark run; each side's best wall and best CPU time)`,
      );
      const m = mine[0];
      const t = theirs[0];
      const same =
        mine.every((r) => r.n === frames && r.check === m.check) &&
        theirs.every((r) => r.n === frames && r.check === m.check) &&
        startup.every((r) => r.n === STREAMS);
      out(
        `SV frames seen: svtrace ${fmt(m.n)}, tshark ${fmt(t.n)}, generated ${fmt(frames)}; svID/smpCnt checksum svtrace ${m.check}, tshark ${t.check}: ${same ? "same" : "DIFFERENT"}`,
      );
      if (!same) process.exitCode = 1;
      const jsonFrames = intOption(args, "json-frames", 100_000);
      const jsonFile = join(dir, "sv-bench-json.pcap");
      generate(jsonFile, jsonFrames);
      await wholeCommands(file, jsonFile, frames, jsonFrames, dir);
      if (keep) out(`kept ${file} and ${jsonFile}`);
    } finally {
      if (!keep) rmSync(dir, { recursive: true, force: true });
    }
  },
};
