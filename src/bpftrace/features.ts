/**
 * What the installed bpftrace can do, detected once per process from `bpftrace --version`:
 * the version, whether `nsecs(tai)` exists (v0.19+), and which environment variable names size the maps
 * (BPFTRACE_MAP_KEYS_MAX in <= 0.19, BPFTRACE_MAX_MAP_KEYS again from 0.20; both are set).
 */
import { spawnSync } from "node:child_process";

export interface BpftraceFeatures {
  /** path or name that was run */
  binary: string;
  /** "0.17.0" */
  version: string;
  major: number;
  minor: number;
  /** nsecs(tai) builtin (bpftrace >= 0.19) */
  nsecsTai: boolean;
  /** has_key() builtin (bpftrace >= 0.21) */
  hasKey: boolean;
}

/** Parse "bpftrace v0.17.0" (or "bpftrace v0.21.2-12-gabc"). */
export function parseBpftraceVersion(
  text: string,
): { version: string; major: number; minor: number } | undefined {
  const m = /bpftrace v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  return { version: `${m[1]}.${m[2]}.${m[3] ?? "0"}`, major: Number(m[1]), minor: Number(m[2]) };
}

export function featuresForVersion(
  binary: string,
  version: string,
  major: number,
  minor: number,
): BpftraceFeatures {
  const atLeast = (a: number, b: number) => major > a || (major === a && minor >= b);
  return { binary, version, major, minor, nsecsTai: atLeast(0, 19), hasKey: atLeast(0, 21) };
}

const cache = new Map<string, BpftraceFeatures | Error>();

/** Run `bpftrace --version` once; throws an Error saying what went wrong when it cannot be run. */
export function detectBpftrace(binary = process.env.SVTRACE_BPFTRACE ?? "bpftrace"): BpftraceFeatures {
  const hit = cache.get(binary);
  if (hit instanceof Error) throw hit;
  if (hit) return hit;
  const r = spawnSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 });
  let result: BpftraceFeatures | Error;
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    result = new Error(
      code === "ENOENT"
        ? `bpftrace not found (${binary}): install it (apt-get install bpftrace)`
        : `bpftrace cannot be run (${binary}): ${r.error.message}`,
    );
  } else {
    const v = parseBpftraceVersion(`${r.stdout}${r.stderr}`);
    result = v
      ? featuresForVersion(binary, v.version, v.major, v.minor)
      : new Error(
          `bpftrace is unusable: \`${binary} --version\` printed ${JSON.stringify((r.stdout + r.stderr).trim().slice(0, 80))}`,
        );
  }
  cache.set(binary, result);
  if (result instanceof Error) throw result;
  return result;
}
