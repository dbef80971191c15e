/**
 * `npm run bench tracer`: the tracer's cost and observer effect through the lab (bridge), 8 streams x 4800 SV/s
 * (60 Hz) for 60 s in all (`--duration=S`, `--rounds=N`, `--switch=MODE` to change): bpftrace and svtrace CPU
 * (utime+stime from /proc/PID/stat over the traffic, % of one core), lost events, SVs recorded, and the
 * subscriber's end-to-end latency (refrTm T0 -> kernel receive timestamp at vm0) without and with
 * `svtrace record` attached: p50 and p99 shift. Between the two, a floor run: bpftrace with a program that does
 * nothing on the same tracepoints, the part of the shift that comes from enabling the tracepoints at all (the
 * kernel fills each event's record before any program runs), which no program svtrace generates can remove.
 * The three runs alternate in rounds (3 of 20 s by default), because this machine's latency drifts by more than
 * the shift from one minute to the next; each round's shifts are printed, then their medians. The subscriber
 * runs SCHED_FIFO 40 (chrt) in every run, the publisher at normal priority (a real-time publisher spinning on a
 * 2-core box starves bpftrace). A last, 10 s run with kernel.bpf_stats_enabled gives the in-kernel cost of each
 * probe block (ns per run, runs and µs per SV). Prints figures; never fails on timing.
 * Both backends are measured in every round: floors "tracepoints only" (bpftrace, empty tracepoint programs)
 * and "raw tracepoints only" (libbpf, the object's empty program on the same raw tracepoints), then
 * `svtrace record --backend libbpf`, `--backend libbpf --context` (the cost of context and wait analysis on
 * normal SVs) and `--backend bpftrace`; CPU is the tracer's (record + bpftrace child),
 * printed per round beside the latencies and over all rounds (issue 16's target: under 10 % of one core with
 * libbpf at 8 x 4800 SV/s).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { attachEmptyFloor, RAW_TRACEPOINTS } from "../src/libbpf/runner.js";
import { ATTACH_POINTS } from "../src/probes/catalogue.js";
import { resolveProfile } from "../src/probes/profiles.js";
import { tracingPreflight } from "../src/trace/preflight.js";
import { median } from "./median.js";
import type { Bench } from "./run.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const CLK_TCK = 100;

function canFifo(): boolean {
  return spawnSync("chrt", ["-f", "1", "true"], { stdio: "ignore" }).status === 0;
}

interface Proc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  done: Promise<number | null>;
}

/** Run `svtrace ARGS`; `fifo`: at SCHED_FIFO through chrt (the subscriber, as in KERNEL-TRACING.md's CI). */
function svtrace(args: string[], fifo?: number): Proc {
  const argv = [process.execPath, CLI, ...args];
  return start(fifo !== undefined && canFifo() ? ["chrt", "-f", String(fifo), ...argv] : argv);
}

/** Start a program (no shell), collecting its output. */
function start(cmd: string[]): Proc {
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  const p: Proc = { child, stdout: "", stderr: "", done: Promise.resolve(null) };
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    p.stdout += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    p.stderr += c;
  });
  p.done = new Promise((res) => child.on("close", (code) => res(code)));
  return p;
}

async function waitFor(p: Proc, text: string, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!p.stderr.includes(text)) {
    if (p.child.exitCode !== null) throw new Error(`exited before "${text}": ${p.stderr}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`no "${text}" within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** utime+stime in seconds of a process, or 0 if it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

interface ProgStat {
  id: string;
  runTimeNs: number;
  runs: number;
}

/** run_time_ns and run_cnt of every BPF program a process holds (fdinfo; needs kernel.bpf_stats_enabled). */
function progStats(pid: number): ProgStat[] {
  const out: ProgStat[] = [];
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const t = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
      const id = /^prog_id:\s+(\d+)/m.exec(t)?.[1];
      const rt = /^run_time_ns:\s+(\d+)/m.exec(t)?.[1];
      const rc = /^run_cnt:\s+(\d+)/m.exec(t)?.[1];
      if (id && rt && rc) out.push({ id, runTimeNs: Number(rt), runs: Number(rc) });
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

const BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled";

/** The bpftrace child of a process. */
function bpftracePid(parent: number): number | undefined {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const status = readFileSync(`/proc/${d}/status`, "utf8");
      if (/^Name:\s+bpftrace$/m.test(status) && new RegExp(`^PPid:\\s+${parent}$`, "m").test(status))
        return Number(d);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

interface SubLatency {
  streams: {
    svID: string;
    received: number;
    latency: { p50_us: number; p99_us: number; max_us: number } | null;
  }[];
}

function latencyOf(stdout: string): { p50: number; p99: number; max: number; received: number } {
  const s = JSON.parse(stdout) as SubLatency;
  const withLat = s.streams.filter((x) => x.latency);
  const avg = (f: (x: (typeof withLat)[number]) => number) =>
    withLat.reduce((a, x) => a + f(x), 0) / withLat.length;
  return {
    p50: avg((x) => x.latency?.p50_us ?? 0),
    p99: avg((x) => x.latency?.p99_us ?? 0),
    max: Math.max(...withLat.map((x) => x.latency?.max_us ?? 0)),
    received: s.streams.reduce((a, x) => a + x.received, 0),
  };
}

type Lab = { pub: string; vm: string };

/** The subscriber (SCHED_FIFO 40, listening) and then the publisher: 8 x 4800 SV/s with --t0 for durationS. */
async function startTraffic(ns: Lab, durationS: number): Promise<{ sub: Proc; pub: Proc }> {
  const sub = svtrace(["subscribe", "--iface", "vm0", "--netns", ns.vm, "--json"], 40);
  await waitFor(sub, "listening");
  const pub = svtrace([
    ...["publish", "--iface", "pub0", "--netns", ns.pub, "--streams", "8", "--freq", "60"],
    ...["--t0", "--duration", String(durationS)],
  ]);
  return { sub, pub };
}

/** SIGINT to each process, in order, waiting for it to end. */
async function stopAll(...ps: Proc[]): Promise<void> {
  for (const p of ps) {
    p.child.kill("SIGINT");
    await p.done;
  }
}

async function traffic(ns: Lab, durationS: number): Promise<ReturnType<typeof latencyOf>> {
  const { sub, pub } = await startTraffic(ns, durationS);
  await pub.done;
  await new Promise((r) => setTimeout(r, 1000));
  await stopAll(sub);
  return latencyOf(sub.stdout);
}

/**
 * A bpftrace program that attaches where `svtrace record --lab` attaches and only reads the skb pointer from
 * the tracepoint's record (a block must do something), for the floor run.
 */
function floorProgram(mode: string): string {
  const points = resolveProfile({ profile: "lab", labSwitch: mode as "bridge" | "ovs" | "tap" }).points;
  const attach = [...new Set(points.map((p) => ATTACH_POINTS[p.attach]))];
  return [
    "// the cost of enabling svtrace's tracepoints, without svtrace's program",
    'BEGIN { printf("READY\\n"); }',
    ...attach.map((a) => `${a.name} { $p = ${a.skbExpr}; if ($p == 0) { @never = 1; } }`),
    "",
  ].join("\n");
}

/** Traffic while bpftrace runs `program` (output discarded): the subscriber's latency. */
async function trafficUnder(program: string, dir: string, ns: Lab, durationS: number) {
  const file = join(dir, "floor.bt");
  writeFileSync(file, program);
  const p = start([process.env.SVTRACE_BPFTRACE ?? "bpftrace", file]);
  const t0 = Date.now();
  while (!p.stdout.includes("READY")) {
    if (p.child.exitCode !== null || Date.now() - t0 > 60_000)
      throw new Error(`floor program did not start: ${p.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return await traffic(ns, durationS);
  } finally {
    await stopAll(p);
  }
}

/** Traffic with the object's empty program on the lab's raw tracepoints: the subscriber's latency. */
async function trafficUnderRawFloor(mode: string, ns: Lab, durationS: number) {
  const points = resolveProfile({ profile: "lab", labSwitch: mode as "bridge" | "ovs" | "tap" }).points;
  const tps = [...new Set(points.map((p) => RAW_TRACEPOINTS[p.attach]?.tp ?? ""))].filter(Boolean);
  const detach = attachEmptyFloor(tps);
  try {
    return await traffic(ns, durationS);
  } finally {
    detach();
  }
}

/** The traced runs: record on each backend, and record --context on libbpf (context + wait analysis). */
type Backend = "libbpf" | "context" | "bpftrace";
const RUN_LABEL: Record<Backend, string> = {
  libbpf: "record libbpf",
  context: "record libbpf --context",
  bpftrace: "record bpftrace",
};

/** Traffic with `svtrace record --lab` attached: the subscriber's latency, CPU of record and bpftrace, lost, rows. */
async function tracedRun(ns: Lab, out: string, durationS: number, run: Backend) {
  const backend = run === "context" ? "libbpf" : run;
  const rec = svtrace([
    "record",
    "--lab",
    "--backend",
    backend,
    ...(run === "context" ? ["--context"] : []),
    "--out",
    out,
    "--rate",
    "38400",
    "--json",
  ]);
  await waitFor(rec, "recording");
  // a backend that fell back (libbpf -> bpftrace) would measure the wrong thing
  if (!rec.stderr.includes(`, ${backend}) to `))
    throw new Error(`${RUN_LABEL[run]} did not trace with ${backend}: ${rec.stderr.trim()}`);
  const recPid = rec.child.pid as number;
  const btPid = bpftracePid(recPid);
  const cpu0 = { rec: cpuSeconds(recPid), bt: btPid ? cpuSeconds(btPid) : 0, t: performance.now() };
  const { sub, pub } = await startTraffic(ns, durationS);
  await pub.done;
  await new Promise((r) => setTimeout(r, 1000));
  const wallS = (performance.now() - cpu0.t) / 1000;
  const cpu1 = { rec: cpuSeconds(recPid), bt: btPid ? cpuSeconds(btPid) : 0 };
  await stopAll(sub, rec);
  const snap = JSON.parse(rec.stdout.trim().split("\n").pop() ?? "{}") as {
    lost_events?: number;
    record?: { rows: number };
    streams?: { complete_rows: number }[];
  };
  return {
    lat: latencyOf(sub.stdout),
    btFound: btPid !== undefined,
    btCpuS: cpu1.bt - cpu0.bt,
    recCpuS: cpu1.rec - cpu0.rec,
    wallS,
    lost: snap.lost_events ?? Number.NaN,
    rows: snap.record?.rows ?? Number.NaN,
    complete: (snap.streams ?? []).reduce((a, x) => a + x.complete_rows, 0),
  };
}

/** CPU of the tracer's process tree (record and its bpftrace child) over a traced run, % of one core. */
function cpuPct(t: { recCpuS: number; btCpuS: number; wallS: number }): number {
  return ((t.recCpuS + t.btCpuS) / t.wallS) * 100;
}

export const bench: Bench = {
  name: "tracer",
  title:
    "svtrace record on the lab, 8 x 4800 SV/s: bpftrace/svtrace CPU, lost events, observer effect on latency",
  async run(args: string[]): Promise<void> {
    const opt = (name: string, def: string) =>
      args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? def;
    const durationS = Number(opt("duration", "60"));
    const rounds = Math.max(1, Number(opt("rounds", "3")));
    const runS = Math.max(5, Math.round(durationS / rounds));
    const mode = opt("switch", "bridge");
    const prefix = process.env.SVTRACE_LAB_PREFIX ?? "svt-";
    const ns = { pub: `${prefix}pub`, vm: `${prefix}vm` };
    tracingPreflight(); // the floor runs start bpftrace directly: same preflight as every svtrace run
    const dir = mkdtempSync(join(tmpdir(), "svt-bench-tracer-"));
    const up = svtrace(["lab", "up", "--switch", mode]);
    if ((await up.done) !== 0) throw new Error(`lab up failed: ${up.stderr}`);
    try {
      process.stdout.write(
        `lab ${mode}, 8 streams x 4800 SV/s (38 400 SV/s); ${rounds} round(s) of six ${runS} s runs: without tracer, ` +
          `tracepoints only (bpftrace, empty programs on svtrace's tracepoints), raw tracepoints only (libbpf, empty ` +
          `program), svtrace record --backend libbpf, svtrace record --backend libbpf --context (context and wait ` +
          `analysis over 200 µs), svtrace record --backend bpftrace\n`,
      );
      const backends: Backend[] = ["libbpf", "context", "bpftrace"];
      const acc = Object.fromEntries(
        backends.map((b) => [b, { bt: 0, rec: 0, wall: 0, lost: 0, rows: 0, complete: 0, received: 0 }]),
      ) as Record<
        Backend,
        {
          bt: number;
          rec: number;
          wall: number;
          lost: number;
          rows: number;
          complete: number;
          received: number;
        }
      >;
      type Shift = {
        floorBt: number;
        floorRaw: number;
        libbpf: number;
        context: number;
        bpftrace: number;
        p99L: number;
        p99C: number;
        p99B: number;
      };
      const shifts: Shift[] = [];
      const f = (x: number) => x.toFixed(1);
      for (let round = 1; round <= rounds; round++) {
        const base = await traffic(ns, runS);
        const floor = await trafficUnder(floorProgram(mode), dir, ns, runS);
        const raw = await trafficUnderRawFloor(mode, ns, runS);
        const runs = {} as Record<Backend, Awaited<ReturnType<typeof tracedRun>>>;
        for (const b of backends) {
          const t = await tracedRun(ns, join(dir, `round${round}-${b}.arrow`), runS, b);
          runs[b] = t;
          const a = acc[b];
          a.bt += t.btCpuS;
          a.rec += t.recCpuS;
          a.wall += t.wallS;
          a.lost += t.lost;
          a.rows += t.rows;
          a.complete += t.complete;
          a.received += t.lat.received;
        }
        const sh: Shift = {
          floorBt: floor.p50 - base.p50,
          floorRaw: raw.p50 - base.p50,
          libbpf: runs.libbpf.lat.p50 - base.p50,
          context: runs.context.lat.p50 - base.p50,
          bpftrace: runs.bpftrace.lat.p50 - base.p50,
          p99L: runs.libbpf.lat.p99 - base.p99,
          p99C: runs.context.lat.p99 - base.p99,
          p99B: runs.bpftrace.lat.p99 - base.p99,
        };
        shifts.push(sh);
        process.stdout.write(
          `round ${round}: subscriber latency p50 / p99 (µs): without tracer ${f(base.p50)} / ${f(base.p99)}, ` +
            `tracepoints only (bpftrace) ${f(floor.p50)} / ${f(floor.p99)}, raw tracepoints only (libbpf) ${f(raw.p50)} / ${f(raw.p99)}, ` +
            `${backends.map((b) => `${RUN_LABEL[b]} ${f(runs[b].lat.p50)} / ${f(runs[b].lat.p99)}`).join(", ")}; ` +
            `p50 shift libbpf ${f(sh.libbpf)}, libbpf --context ${f(sh.context)}, bpftrace ${f(sh.bpftrace)}; ` +
            `tracer CPU (svtrace process tree) ${backends.map((b) => `${RUN_LABEL[b].replace("record ", "")} ${f(cpuPct(runs[b]))} %`).join(", ")} of one core\n`,
        );
      }
      const med = (k: keyof Shift) => median(shifts.map((x) => x[k])).toFixed(1);
      process.stdout.write(
        `observer effect, median of ${rounds} rounds: p50 shift with libbpf ${med("libbpf")} µs (target <= 2 µs), with libbpf --context ${med("context")} µs, with bpftrace ${med("bpftrace")} µs; ` +
          `floors: raw tracepoints ${med("floorRaw")} µs, bpftrace tracepoints ${med("floorBt")} µs; p99 shift libbpf ${med("p99L")} µs, libbpf --context ${med("p99C")} µs, bpftrace ${med("p99B")} µs\n`,
      );
      for (const b of backends) {
        const a = acc[b];
        process.stdout.write(
          `${RUN_LABEL[b].replace("record ", "")}: tracer CPU ${(((a.rec + a.bt) / a.wall) * 100).toFixed(1)} % of one core (svtrace record ${((a.rec / a.wall) * 100).toFixed(1)} %` +
            `${b === "bpftrace" ? `, bpftrace ${((a.bt / a.wall) * 100).toFixed(1)} %` : ""}; over ${a.wall.toFixed(1)} s; target < 10 %), ` +
            `lost events ${a.lost}, SVs recorded ${a.rows} (${a.complete} at every point) of ${a.received} received\n`,
        );
      }
      // In-kernel cost: with kernel.bpf_stats_enabled (which itself adds two clock reads per run, hence a
      // separate run), the run time per program run of each probe block, over 10 s of the same traffic.
      const statsS = Math.min(10, durationS);
      const perRun: Record<Backend, number[]> = { libbpf: [], context: [], bpftrace: [] };
      let statsWas = "0";
      try {
        statsWas = readFileSync(BPF_STATS, "utf8").trim();
        writeFileSync(BPF_STATS, "1");
      } catch {
        process.stdout.write("in-kernel cost: kernel.bpf_stats_enabled not writable, skipped\n");
      }
      try {
        for (const b of ["libbpf", "bpftrace"] as const) {
          const rec2 = svtrace([
            "record",
            "--lab",
            "--backend",
            b,
            "--out",
            join(dir, `stats-${b}.arrow`),
            "--rate",
            "38400",
          ]);
          await waitFor(rec2, "recording");
          const bt2 = b === "bpftrace" ? bpftracePid(rec2.child.pid as number) : rec2.child.pid;
          const { sub: sub2, pub: pub2 } = await startTraffic(ns, statsS + 2);
          await new Promise((r) => setTimeout(r, 1000));
          const s0 = bt2 ? progStats(bt2) : [];
          await new Promise((r) => setTimeout(r, statsS * 1000));
          const s1 = bt2 ? progStats(bt2) : [];
          await pub2.done;
          await stopAll(sub2, rec2);
          const svs = 38_400 * statsS;
          const blocks = [
            "netif_receive_skb (T1 hyp-in, T3 vm0, other devices)",
            "net_dev_start_xmit (T2 hyp-out, other devices)",
            "skb_copy_datagram_iovec (T4 svt-sub read)",
          ];
          // programs in load order (bpftrace loads the probe blocks in program order): BEGIN and END did not
          // run in the window, interval:s:1 comes after the three blocks
          const deltas = s1
            .map((x) => {
              const b = s0.find((y) => y.id === x.id) ?? { runTimeNs: 0, runs: 0 };
              return { id: Number(x.id), ns: x.runTimeNs - b.runTimeNs, runs: x.runs - b.runs };
            })
            .filter((x) => x.runs > statsS * 2)
            .sort((a, b) => a.id - b.id);
          deltas.slice(0, blocks.length).forEach((x, k) => {
            const per = x.ns / x.runs;
            perRun[b][k] = per;
            process.stdout.write(
              `in-kernel cost ${b} ${blocks[k]}: ${per.toFixed(0)} ns per run, ${(x.runs / svs).toFixed(2)} runs per SV, ${(x.ns / svs / 1000).toFixed(2)} µs per SV\n`,
            );
          });
        }
        // Issue 14's question: how much of the p50 shift is the programs' own run time? On the bridge lab's
        // path, before the kernel stamps the subscriber's socket (netif_rx on vm0), svtrace's programs run on
        // net_dev_start_xmit twice (pub0, hyp-out) and on netif_receive_skb once (hyp-in); the rest runs after it.
        if (mode === "bridge") {
          for (const b of backends) {
            const [rx, tx] = perRun[b];
            if (rx === undefined || tx === undefined) continue;
            const onPath = (rx + 2 * tx) / 1000;
            const shift = median(shifts.map((x) => x[b]));
            process.stdout.write(
              `observer effect explained ${b}: programs on the path before the subscriber's kernel stamp ` +
                `(netif_receive_skb hyp-in + net_dev_start_xmit pub0, hyp-out) ${onPath.toFixed(2)} µs per SV ` +
                `vs p50 shift ${shift.toFixed(1)} µs (${shift > 0 ? ((onPath / shift) * 100).toFixed(0) : "-"} %)\n`,
            );
          }
        }
      } finally {
        try {
          writeFileSync(BPF_STATS, statsWas);
        } catch {
          /* not writable: nothing was changed */
        }
      }
    } finally {
      const down = svtrace(["lab", "down"]);
      await down.done;
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
