/**
 * Benchmark: `svtrace report FILE --json` as a user runs it (start-up included) against pandas (Debian's
 * python3-pandas, /usr/bin/python3), in the same run:
 *  1. CSV: a 2 000 000-row record of 2 streams (t0 + T1..T4, ~246 MB): svtrace and pandas (read_csv + groupby
 *     quantiles of every segment) read the same CSV file; svtrace on the same record as Arrow beside it.
 *     Target: svtrace >= 5x pandas in wall time.
 *  2. 48 000 000 rows shaped like a real `record --lab` (8 streams x 6 000 000 at 4000 SV/s, t0 + T1..T4,
 *     0.1 % spikes, rare ms spikes, host stalls hitting every stream at once) as Arrow. Targets: <= 10 s wall
 *     and <= 300 MB peak RSS in every run.
 * Wall time and peak RSS of the whole command come from /usr/bin/time -v; percentiles of both tools are
 * compared. PASS/FAIL lines state the targets. Generated files (GBs) are deleted unless --keep.
 *
 *   node dist/bench/run.js report [--runs=3] [--big-runs=2] [--big-rows=48000000] [--dir=/var/tmp/x] [--keep]
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type SyntheticOptions, writeSyntheticRecord } from "../src/record/synthetic.js";
import { median } from "./median.js";
import type { Bench } from "./run.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const QS = [0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999];
const KEYS = ["p50", "p90", "p99", "p99.9", "p99.99", "p99.999"];
const POINTS = ["t0", "t1", "t2", "t3", "t4"];

/** Same numbers svtrace gives per stream and segment: count, min, max, mean, nearest-rank percentiles. */
const PANDAS = `
import sys, json, numpy as np, pandas as pd
pts = ${JSON.stringify(POINTS)}
df = pd.read_csv(sys.argv[1], dtype={"svID": "category", **{p + "_ns": "Int64" for p in pts}})
segs = {f"{a.upper()}-{b.upper()}": (a, b) for a, b in zip(pts, pts[1:])}
segs["total"] = (pts[0], pts[-1])
out = {}
for name, (a, b) in segs.items():
    lat = (df[b + "_ns"] - df[a + "_ns"]).astype("float64")
    for sv, g in lat.groupby(df["svID"], observed=True):
        g = g.dropna().to_numpy()
        q = np.quantile(g, ${JSON.stringify(QS)}, method="inverted_cdf")  # nearest rank, as svtrace
        out.setdefault(str(sv), {})[name] = {"count": int(g.size), "min": int(g.min()), "max": int(g.max()),
            "mean": float(g.mean()), "q": [int(v) for v in q], "over_us": {str(t): int((g > t * 1000).sum()) for t in (100, 200, 250)}}
print(json.dumps(out))
`;

/** The lighter pandas job the issue timed: one segment (T1-T2), only the columns it needs, plain int64. */
const PANDAS_ONE = `
import sys, json, numpy as np, pandas as pd
df = pd.read_csv(sys.argv[1], usecols=["svID", "t1_ns", "t2_ns"], dtype={"svID": "category", "t1_ns": "int64", "t2_ns": "int64"})
lat = df["t2_ns"] - df["t1_ns"]
out = {}
for sv, g in lat.groupby(df["svID"], observed=True):
    q = np.quantile(g.to_numpy(), ${JSON.stringify(QS)}, method="inverted_cdf")
    out[str(sv)] = {"T1-T2": {"count": int(g.count()), "min": int(g.min()), "max": int(g.max()), "q": [int(v) for v in q]}}
print(json.dumps(out))
`;

interface Timed {
  wallS: number;
  /** user + system CPU seconds (all threads): a steadier figure than wall time on a busy machine */
  cpuS: number;
  rssMB: number;
  stdout: string;
}

/** Run a program under /usr/bin/time -v; wall time and peak RSS of the whole command from its report. */
function timed(cmd: string, args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    execFile(
      "/usr/bin/time",
      ["-v", cmd, ...args],
      { maxBuffer: 256 << 20, encoding: "utf8" },
      (err, stdout, stderr) => {
        const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(
          stderr,
        );
        const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
        if (err || !wall || !rss) {
          reject(new Error(`${cmd} failed: ${err?.message ?? ""}\n${stderr.slice(-2000)}`));
          return;
        }
        const wallS = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
        const user = Number(/User time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? 0);
        const sys = Number(/System time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? 0);
        resolve({ wallS, cpuS: user + sys, rssMB: Number(rss[1]) / 1024, stdout });
      },
    );
  });
}

/** `--name=value` (bench/run.ts passes only the arguments that start with "-") */
function arg(args: string[], name: string): string | undefined {
  const a = args.find((x) => x.startsWith(`${name}=`));
  return a?.slice(name.length + 1);
}

const fmt = (n: number, d = 2) => n.toFixed(d);
const out = (s: string) => process.stdout.write(`${s}\n`);
const load = () => `load average ${loadavg()[0]?.toFixed(1)}`;
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

async function generate(path: string, format: "arrow" | "csv", o: SyntheticOptions): Promise<void> {
  if (existsSync(path)) return;
  const t = performance.now();
  await writeSyntheticRecord(path, format, o);
  out(
    `generated ${path}: ${o.rows} rows, ${fmt(statSync(path).size / 2 ** 20, 0)} MiB in ${fmt((performance.now() - t) / 1000, 1)} s`,
  );
}

async function runs(label: string, n: number, cmd: string, args: string[]): Promise<Timed[]> {
  const res: Timed[] = [];
  for (let i = 0; i < n; i++) {
    const r = await timed(cmd, args);
    res.push(r);
    out(
      `${label} run ${i + 1}: ${fmt(r.wallS)} s wall, ${fmt(r.cpuS)} s CPU, ${fmt(r.rssMB, 0)} MB peak RSS (${load()})`,
    );
  }
  return res;
}

type Seg = Record<string, number> & { over_us: Record<string, number> };
type Summary = { streams: { svID: string; segments: Record<string, Seg> }[] };
type PandasOut = Record<string, Record<string, { count: number; min: number; max: number; q: number[] }>>;

/** svtrace's and pandas' figures side by side: counts, min/max exact; worst percentile difference. */
function agreement(sv: Summary, pd: PandasOut): string {
  let worst = 0;
  let exact = true;
  let compared = 0;
  for (const s of sv.streams)
    for (const [name, p] of Object.entries(pd[s.svID] ?? {})) {
      const g = s.segments[name];
      if (!g) continue;
      compared++;
      if (g.count !== p.count || g.min !== p.min || g.max !== p.max) exact = false;
      KEYS.forEach((k, i) => {
        const want = p.q[i] as number;
        worst = Math.max(worst, Math.abs((g[k] as number) - want) / Math.max(1, Math.abs(want)));
      });
    }
  return `agreement on ${compared} stream x segment pairs: count/min/max ${exact ? "equal" : "DIFFER"}, worst percentile difference ${fmt(worst * 100, 4)} % (svtrace's histogram keeps 0.05 %)`;
}

export const bench: Bench = {
  name: "report",
  title:
    "svtrace report vs pandas on a 2M-row CSV record; 48M rows shaped like a real record (8 streams, t0..T4)",
  async run(args: string[]): Promise<void> {
    const nRuns = Number(arg(args, "--runs") ?? 3);
    const bigRuns = Number(arg(args, "--big-runs") ?? 2);
    const bigRows = Number(arg(args, "--big-rows") ?? 48_000_000);
    const keep = args.includes("--keep");
    const dir = arg(args, "--dir") ?? mkdtempSync(join(tmpdir(), "svtrace-bench-report-"));
    const small: SyntheticOptions = {
      rows: 2_000_000,
      streams: ["svID0000", "svID0001"],
      rate: 4000,
      points: POINTS,
      meanNs: [60_000, 20_000, 8_000, 12_000],
      sdNs: [5_000, 3_000, 1_000, 2_000],
      burstsPerMinute: 6,
      seed: 2026,
    };
    const big: SyntheticOptions = {
      ...small,
      rows: bigRows,
      streams: Array.from({ length: 8 }, (_, i) => `svID${String(i).padStart(4, "0")}`),
      seed: 2027,
    };
    const csv = join(dir, "record-2M.csv");
    const arrow2 = join(dir, "record-2M.arrow");
    const arrow = join(dir, `record-${bigRows}.arrow`);
    try {
      out("== 1. 2 000 000 rows, 2 streams, t0 + T1..T4: the same CSV file read by svtrace and by pandas");
      await generate(csv, "csv", small);
      await generate(arrow2, "arrow", small);
      const svCsv = await runs("svtrace report CSV --json", nRuns, process.execPath, [
        CLI,
        "report",
        csv,
        "--json",
      ]);
      const svArrow = await runs("svtrace report Arrow --json", nRuns, process.execPath, [
        CLI,
        "report",
        arrow2,
        "--json",
      ]);
      const pd = await runs("pandas read_csv + groupby quantiles", nRuns, "/usr/bin/python3", [
        "-c",
        PANDAS,
        csv,
      ]);
      const pd1 = await runs("pandas, one segment (T1-T2) only", nRuns, "/usr/bin/python3", [
        "-c",
        PANDAS_ONE,
        csv,
      ]);
      const wPd1 = median(pd1.map((r) => r.wallS));
      out(
        agreement(
          JSON.parse(svCsv[0]?.stdout ?? "{}") as Summary,
          JSON.parse(pd[0]?.stdout ?? "{}") as PandasOut,
        ),
      );
      const wCsv = median(svCsv.map((r) => r.wallS));
      const wArrow = median(svArrow.map((r) => r.wallS));
      const wPd = median(pd.map((r) => r.wallS));
      const cpu = (rs: Timed[]) => median(rs.map((r) => r.cpuS));
      out(
        `median wall: svtrace CSV ${fmt(wCsv)} s, svtrace Arrow ${fmt(wArrow)} s, pandas CSV ${fmt(wPd)} s; ` +
          `svtrace is ${fmt(wPd / wCsv, 1)}x pandas on CSV (${fmt(cpu(pd) / cpu(svCsv), 1)}x in CPU time), ${fmt(wPd / wArrow, 1)}x on Arrow`,
      );
      out(
        `pandas doing one segment only (the issue's baseline job): ${fmt(wPd1)} s, svtrace (every segment, continuity, series) is ${fmt(wPd1 / wCsv, 1)}x that`,
      );
      out(`${verdict(wPd / wCsv >= 5)}: CSV >= 5x pandas on the same job (${fmt(wPd / wCsv, 1)}x)`);
      out(`${verdict(wPd1 / wCsv >= 5)}: CSV >= 5x pandas doing one segment only (${fmt(wPd1 / wCsv, 1)}x)`);
      if (!keep) rmSync(csv, { force: true });

      out(
        `== 2. ${bigRows} rows shaped like a real record: 8 streams, t0 + T1..T4, spikes and host stalls (Arrow)`,
      );
      await generate(arrow, "arrow", big);
      const b = await runs("svtrace report --json", bigRuns, process.execPath, [
        CLI,
        "report",
        arrow,
        "--json",
      ]);
      const seg = (JSON.parse(b[0]?.stdout ?? "{}") as Summary).streams[0]?.segments.total;
      if (seg)
        out(
          `svID0000 total: count ${seg.count} min ${seg.min} p50 ${seg.p50} p99 ${seg.p99} p99.9 ${seg["p99.9"]} p99.999 ${seg["p99.999"]} max ${seg.max} ns; >100us ${seg.over_us["100"]}`,
        );
      const maxWall = Math.max(...b.map((r) => r.wallS));
      const maxRss = Math.max(...b.map((r) => r.rssMB));
      out(`${verdict(maxWall <= 10)}: <= 10 s wall in every run (worst ${fmt(maxWall)} s)`);
      out(`${verdict(maxRss <= 300)}: <= 300 MB peak RSS in every run (worst ${fmt(maxRss, 0)} MB)`);
    } finally {
      if (!keep) {
        for (const f of [csv, arrow2, arrow]) rmSync(f, { force: true });
        if (!arg(args, "--dir")) rmSync(dir, { recursive: true, force: true });
      }
    }
  },
};
