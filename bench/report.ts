/**
 * Benchmark: `svtrace report FILE --json` on a 48 000 000-row record (one stream, 4 h at 4000 SV/s, latency
 * ~N(28 µs, 4 µs) + 0.1 % spikes to 150 µs + rare ms spikes) against pandas (Debian's python3-pandas, run with
 * /usr/bin/python3) reading the same data as CSV and computing the same percentiles. Wall time and peak RSS
 * come from /usr/bin/time -v; the percentiles of both are compared. The generated files (GBs) are deleted.
 *
 *   npm run bench report [-- --rows=48000000 --dir=/var/tmp/x --keep --no-pandas --runs=2]
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeSyntheticRecord } from "../src/record/synthetic.js";
import type { Bench } from "./run.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const QS = [0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999];
const KEYS = ["p50", "p90", "p99", "p99.9", "p99.99", "p99.999"];

const PANDAS = `
import sys, json, numpy as np, pandas as pd
df = pd.read_csv(sys.argv[1], usecols=["svID", "smpCnt", "t1_ns", "t2_ns"],
                 dtype={"svID": "category", "smpCnt": "uint32", "t1_ns": "int64", "t2_ns": "int64"})
lat = df["t2_ns"] - df["t1_ns"]
out = {}
for sv, g in lat.groupby(df["svID"], observed=True):
    q = np.quantile(g.to_numpy(), ${JSON.stringify(QS)}, method="inverted_cdf")  # nearest rank, as svtrace
    out[str(sv)] = {"count": int(g.count()), "min": int(g.min()), "mean": float(g.mean()), "stddev": float(g.std(ddof=0)),
                    "max": int(g.max()), "q": [int(v) for v in q],
                    "over_us": {str(t): int((g > t * 1000).sum()) for t in (100, 200, 250)}}
print(json.dumps(out))
`;

interface Timed {
  wallS: number;
  /** user + system CPU seconds (all threads): a steadier figure than wall time on a busy machine */
  cpuS: number;
  rssMB: number;
  stdout: string;
}

/** Run a program under /usr/bin/time -v; wall time and peak RSS from its report. */
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
        if (!wall || !rss) {
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

export const bench: Bench = {
  name: "report",
  title: "svtrace report on a 48M-row record (4 h x 4000 SV/s) vs pandas on the same data as CSV",
  async run(args: string[]): Promise<void> {
    const rows = Number(arg(args, "--rows") ?? 48_000_000);
    const runs = Number(arg(args, "--runs") ?? 2);
    const keep = args.includes("--keep");
    const dir = arg(args, "--dir") ?? mkdtempSync(join(tmpdir(), "svtrace-bench-report-"));
    const arrow = join(dir, `record-${rows}.arrow`);
    const csv = join(dir, `record-${rows}.csv`);
    const opts = { rows, rate: 4000, batchRows: 4000, seed: 2026 };
    try {
      if (!existsSync(arrow)) {
        const t = performance.now();
        await writeSyntheticRecord(arrow, "arrow", opts);
        process.stdout.write(
          `generated ${arrow}: ${rows} rows, ${fmt(statSync(arrow).size / 2 ** 30)} GiB in ${fmt((performance.now() - t) / 1000, 1)} s\n`,
        );
      }
      const svtrace: Timed[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await timed(process.execPath, [CLI, "report", arrow, "--json"]);
        svtrace.push(r);
        process.stdout.write(
          `svtrace report --json run ${i + 1}: ${fmt(r.wallS)} s wall, ${fmt(r.cpuS)} s CPU, ${fmt(r.rssMB, 0)} MB peak RSS (load average ${loadavg()[0]?.toFixed(1)})\n`,
        );
      }
      const best = svtrace.reduce((a, b) => (b.wallS < a.wallS ? b : a));
      const summary = JSON.parse(best.stdout) as {
        streams: { svID: string; segments: Record<string, Record<string, number>> }[];
      };
      const seg = summary.streams[0]?.segments["T1-T2"] as Record<string, number> & {
        over_us: Record<string, number>;
      };
      process.stdout.write(
        `svtrace: count ${seg.count} min ${seg.min} mean ${fmt(seg.mean as number, 1)} p50 ${seg.p50} p99 ${seg.p99} p99.9 ${seg["p99.9"]} p99.99 ${seg["p99.99"]} p99.999 ${seg["p99.999"]} max ${seg.max} ns; >100us ${seg.over_us["100"]} >200us ${seg.over_us["200"]}\n`,
      );
      process.stdout.write(
        `targets: <= 10 s and <= 300 MB: ${best.wallS <= 10 ? "met" : "NOT met"} / ${Math.max(...svtrace.map((r) => r.rssMB)) <= 300 ? "met" : "NOT met"}\n`,
      );
      if (args.includes("--no-pandas")) return;
      if (!existsSync(csv)) {
        const t = performance.now();
        await writeSyntheticRecord(csv, "csv", opts);
        process.stdout.write(
          `generated ${csv}: ${fmt(statSync(csv).size / 2 ** 30)} GiB in ${fmt((performance.now() - t) / 1000, 1)} s\n`,
        );
      }
      const pd = await timed("/usr/bin/python3", ["-c", PANDAS, csv]);
      process.stdout.write(
        `pandas read_csv + quantiles: ${fmt(pd.wallS)} s wall, ${fmt(pd.cpuS)} s CPU, ${fmt(pd.rssMB, 0)} MB peak RSS (load average ${loadavg()[0]?.toFixed(1)})\n`,
      );
      const p = (
        JSON.parse(pd.stdout) as Record<
          string,
          { count: number; min: number; max: number; q: number[]; over_us: Record<string, number> }
        >
      ).svID0000;
      if (p) {
        const worst = Math.max(
          ...KEYS.map((k, i) => Math.abs((seg[k] as number) - (p.q[i] as number)) / (p.q[i] as number)),
        );
        process.stdout.write(
          `agreement: count ${p.count === seg.count ? "equal" : `${p.count} vs ${seg.count}`}, min/max ${p.min === seg.min && p.max === seg.max ? "equal" : "DIFFER"}, ` +
            `>100us ${p.over_us["100"] === seg.over_us["100"] ? "equal" : "DIFFER"}, worst percentile difference ${fmt(worst * 100, 4)} %\n`,
        );
      }
      process.stdout.write(
        `ratio: svtrace is ${fmt(pd.wallS / best.wallS, 1)}x faster than pandas in wall time (${fmt(pd.cpuS / best.cpuS, 1)}x in CPU time) and uses ${fmt(pd.rssMB / best.rssMB, 1)}x less memory (target >= 5x faster)\n`,
      );
    } finally {
      if (!keep) {
        rmSync(arrow, { force: true });
        rmSync(csv, { force: true });
        if (!arg(args, "--dir")) rmSync(dir, { recursive: true, force: true });
      }
    }
  },
};
