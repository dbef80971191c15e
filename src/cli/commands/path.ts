/**
 * `svtrace path`: pwru-like trace of SV frames only. Every kernel event the first N SVs cause (net:*, skb:*,
 * qdisc:*, kprobes where the kernel has them), each with time since the SV's first event, CPU, thread, device
 * and netns, then the distinct routes with counts and latency. Thin layer over src/trace/path-session.ts.
 */
import type { Command } from "@commander-js/extra-typings";
import { Option } from "@commander-js/extra-typings";
import { routesOf } from "../../analysis/path-routes.js";
import { parseMachine, parseStreams } from "../../config/selection.js";
import { fail } from "../../errors.js";
import { SWITCH_MODES } from "../../lab/names.js";
import { formatRoutes, formatSvPath, routesJson, svPathJson } from "../../report/path-text.js";
import { runPath } from "../../trace/path-session.js";

const HELP = `
Prints, per SV (identified by svID and smpCnt, so it is followed across skb clones and copies), every event
it caused: +µs since its first event, CPU, thread id and name, event, device, network namespace, skb address
(kfree_skb: the drop reason). Then the routes: each distinct ordered list of (event, device, thread kind) with
its count and first-to-last latency. Thread kinds: ksoftirqd, switch (ovs-vswitchd and its threads), forwarder
(vhost-*), kworker, irq, app (any other task; a softirq shows as the task it ran in, as in pwru).
--json: one object per SV per line ({"svID","smpCnt","events":[...]}), then {"routes":[...]}.
SVs first seen within 50 ms of the probes attaching are skipped (they may have been caught half-way).
It ends once --count SVs (per stream with --stream) are in and 0.5 s passed for their last events, or on Ctrl-C.`;

export function register(program: Command): void {
  program
    .command("path")
    .description(
      "pwru-like: every kernel event the first N SVs cause, with CPU and thread, then their routes",
    )
    .option("--lab", "trace the svtrace lab's namespaces (svtrace lab up)")
    .addOption(new Option("--switch <mode>", "lab switch variant (only names the run)").choices(SWITCH_MODES))
    .option("--machine <kind>", "a real host: hypervisor or vm (every namespace is traced)")
    .option("--iface <if>", "the SV interface (named in the output)")
    .option("--stream <svid...>", "only these svIDs (exact); --count then counts per stream")
    .option("--count <n>", "SVs to follow (per stream with --stream, else in total)", "10")
    .option("--json", "one JSON object per SV, then one with the routes")
    .option("--program", "print the generated bpftrace program on stderr first")
    .addHelpText(
      "after",
      `${HELP}\n\nExamples:\n  svtrace path --lab --count 10\n  svtrace path --lab --stream svID0001 --count 5 --json\n  svtrace path --machine hypervisor --iface enp7s0 --count 20\n`,
    )
    .action(async (o) => {
      if (o.lab && o.machine) fail("give either --lab or --machine, not both");
      if (!o.lab && !o.machine) fail("say what to trace: --lab, or --machine hypervisor|vm --iface IF");
      if (o.machine) parseMachine(o.machine);
      if (!/^\d+$/.test(o.count) || Number(o.count) < 1)
        fail(`bad --count "${o.count}": give a positive integer`);
      const streams = parseStreams(o.stream);
      const ac = new AbortController();
      const onSig = () => ac.abort();
      process.on("SIGINT", onSig);
      process.on("SIGTERM", onSig);
      const tty = process.stderr.isTTY;
      try {
        const r = await runPath({
          lab: o.lab ? {} : undefined,
          streams,
          count: Number(o.count),
          signal: ac.signal,
          onReady: (info) => {
            if (o.program) process.stderr.write(info.program);
            process.stderr.write(
              `svtrace: path: following ${o.count} SVs${streams.length > 0 ? " per stream" : ""} on ${info.events.length} events (${info.notes.join("; ")}); Ctrl-C stops\n`,
            );
          },
          onProgress: tty ? (n) => process.stderr.write(`\r${n} SVs`) : undefined,
        });
        if (tty) process.stderr.write("\r");
        const names = { netns: r.info.netnsNames, dropReasons: r.dropReasons };
        const routes = routesOf(r.paths);
        if (o.json) {
          for (const p of r.paths) process.stdout.write(`${JSON.stringify(svPathJson(p, names))}\n`);
          process.stdout.write(`${JSON.stringify(routesJson(routes))}\n`);
        } else {
          for (const p of r.paths) process.stdout.write(`${formatSvPath(p, names)}\n\n`);
          process.stdout.write(`${r.paths.length > 0 ? formatRoutes(routes) : "no SV frame seen"}\n`);
        }
        if (r.stoppedBy !== "count")
          process.stderr.write(
            `svtrace: path: stopped (${r.stoppedBy}) with ${r.paths.length} of ${o.count} SVs\n`,
          );
      } finally {
        process.off("SIGINT", onSig);
        process.off("SIGTERM", onSig);
      }
    });
}
