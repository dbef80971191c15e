/**
 * `svtrace lab up|down|status`: the one-machine virtual lab (publisher, hypervisor switch, VM namespaces).
 * Thin CLI layer over src/lab/; the hidden `lab forwarder` is the tap mode's background vhost-like process.
 */
import { writeFileSync } from "node:fs";
import { type Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { fail } from "../../errors.js";
import { guestClockRound, roundToJson } from "../../lab/guest-clock.js";
import {
  DEFAULT_KERNEL_PACKAGE,
  guestKernel,
  KERNEL_CACHE,
  LAB_MODES,
  type LabMode,
  type LabStatus,
  labDown,
  labExec,
  labStatus,
  labUp,
  runForwarder,
} from "../../lab/index.js";
import { estimateRound } from "../../record/clock-sync.js";

const TOPOLOGY = `Topology (namespace names come from SVTRACE_LAB_PREFIX, default "svt-"):
  svt-pub: pub0 --veth-- svt-hyp: hyp-in -> SWITCH -> hyp-out --veth-- svt-vm: vm0
  bridge  Linux bridge br0 (STP off, multicast snooping off, forward delay 0) with hyp-in and hyp-out
  ovs     Open vSwitch br-sv, datapath_type=netdev (userspace), private ovsdb-server/ovs-vswitchd run from
          /run/svtrace/lab-<prefix>/ovs inside svt-hyp; hyp-in = ofport 1, hyp-out = ofport 2, one flow
          "in_port=1,dl_type=0x88ba,actions=output:2" (the default NORMAL flow is removed: only SV crosses)
  tap     br0 with hyp-in and tap vnet0; a background forwarder thread "vhost-svt" (SCHED_FIFO 45 if allowed)
          copies every frame from vnet0 into tap vm0 in svt-vm, like vhost-net (no hyp-out in this mode);
          --delay-us N holds each frame N µs after the thread read it: T2b->T3 grows by N
  qemu    br0 with hyp-in and tap vnet0; QEMU (qemu-system-x86_64, TCG unless --accel kvm) runs in svt-hyp on
          vnet0 with a virtio-net NIC: the VM is a real guest (eth0), no svt-vm namespace. The guest boots a
          Debian kernel (--kernel-package, default ${DEFAULT_KERNEL_PACKAGE}, fetched with apt-get download
          and cached in ${KERNEL_CACHE}/) with an initramfs svtrace builds (busybox-static, cpio),
          the host's / read-only over virtio-9p, tmpfs /tmp and /run, and /run/svtrace/lab-<prefix>/guest
          shared read-write at the same path; run commands in it with svtrace lab exec
IPv6 is disabled in every namespace and no address is configured, so nothing but the traffic you send crosses.
State: /run/svtrace/lab-<prefix>.json records what up created and the PIDs (with start time) it started.`;

function parsePriority(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 99)
    throw new InvalidArgumentError("a priority is an integer 0..99 (0 = SCHED_OTHER)");
  return n;
}

function parseMemory(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 256 || n > 65536)
    throw new InvalidArgumentError("guest memory is a whole number of MiB from 256 to 65536");
  return n;
}

function parseDelay(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000)
    throw new InvalidArgumentError("a delay is a whole number of µs from 0 to 1000000");
  return n;
}

export function register(program: Command): void {
  const lab = program
    .command("lab")
    .description(
      "build, inspect and remove the one-machine virtual lab (network namespaces, or a QEMU guest)",
    )
    .enablePositionalOptions()
    .addHelpText(
      "after",
      `\n${TOPOLOGY}\n\nExamples:\n  svtrace lab up --switch tap\n  svtrace lab status\n  svtrace lab down\n`,
    );

  lab
    .command("up")
    .description("create the lab namespaces, links and switch (needs root)")
    .addOption(
      new Option("--switch <mode>", "switch between hyp-in and the VM").choices(LAB_MODES).default("bridge"),
    )
    .option("--kernel <file>", "qemu mode: boot this vmlinuz-RELEASE (modules beside it or in /lib/modules)")
    .option(
      "--kernel-package <name>",
      `qemu mode: boot the kernel of this Debian package (default ${DEFAULT_KERNEL_PACKAGE}; fetched and cached)`,
    )
    .addOption(
      new Option(
        "--accel <accel>",
        "qemu mode: accelerator (default tcg: nested KVM hangs at boot where tested)",
      ).choices(["tcg", "kvm"] as const),
    )
    .option("--memory <mib>", "qemu mode: guest memory in MiB", parseMemory, 1024)
    .option(
      "--forwarder-priority <n>",
      "SCHED_FIFO priority of the tap forwarder (0 = SCHED_OTHER)",
      parsePriority,
      45,
    )
    .option(
      "--delay-us <us>",
      "tap mode: the forwarder holds each frame this many µs after reading it (a known delay in T2b->T3)",
      parseDelay,
      0,
    )
    .option(
      "--json",
      "print the lab status as JSON (same shape as `lab status --json`) plus setupMs/alreadyUp",
    )
    .addHelpText(
      "after",
      `\n${TOPOLOGY}\n
If the same lab is already up (same prefix, same --switch) and healthy, up changes nothing and succeeds.
A lab up with another --switch, a half-done up, or namespaces of the same names that svtrace did not create:
one-line error, nothing touched. If a step fails, what up made so far is removed again.

Examples:
  sudo svtrace lab up                        # bridge mode, namespaces svt-pub, svt-hyp, svt-vm
  sudo svtrace lab up --switch ovs --json
  sudo svtrace lab up --switch tap --delay-us 200   # every frame held 200 µs between T2b and T3
  sudo SVTRACE_LAB_PREFIX=mine- svtrace lab up --switch tap   # namespaces mine-pub, mine-hyp, mine-vm
  sudo svtrace lab up --switch qemu          # a Debian 6.1 guest under QEMU on vnet0; then svtrace lab exec
`,
    )
    .action(async (o) => {
      const r = await labUp({
        mode: o.switch as LabMode,
        forwarderPriority: o.forwarderPriority,
        delayUs: o.delayUs,
        kernel: o.kernel,
        kernelPackage: o.kernelPackage,
        accel: o.accel,
        memoryMb: o.memory,
      });
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ ...r.status, setupMs: round(r.setupMs), alreadyUp: r.alreadyUp })}\n`,
        );
        return;
      }
      const n = r.names;
      const sw =
        r.mode === "bridge"
          ? `${n.bridge} -> ${n.hypOut}`
          : r.mode === "ovs"
            ? `OVS ${n.ovsBridge} (netdev) -> ${n.hypOut}`
            : r.mode === "qemu"
              ? `${n.bridge} -> ${n.tap} => QEMU`
              : `${n.bridge} -> ${n.tap} => ${n.forwarderThread}`;
      process.stdout.write(
        r.alreadyUp
          ? `lab already up (--switch ${r.mode}): nothing changed\n`
          : `lab up (--switch ${r.mode}) in ${round(r.setupMs)} ms\n`,
      );
      const g = r.status.guest;
      process.stdout.write(
        `  ${n.pub}/${n.pubIf} -> ${n.hyp}/${n.hypIn} -> ${sw} -> ${g ? "guest eth0" : `${n.vm}/${n.vmIf}`}\n`,
      );
      if (g)
        process.stdout.write(
          `  guest: kernel ${g.release} (${g.kernelPackage ?? g.kernel}), QEMU pid ${g.qemuPid} (${g.accel}), booted in ${(g.bootMs / 1000).toFixed(1)} s\n`,
        );
      if (r.mode === "tap" && r.status.forwarder)
        process.stdout.write(
          `  forwarder: ${r.status.forwarder.scheduling}${r.status.delayUs ? `, holds each frame ${r.status.delayUs} µs` : ""}\n`,
        );
    });

  lab
    .command("down")
    .description("remove what `lab up` created: stop its processes, delete its namespaces (idempotent)")
    .option("--json", "print what was removed as JSON")
    .addHelpText(
      "after",
      `
Stops only the processes the lab started (PID and start time must still match), deletes only namespaces
svtrace created, then removes /run/svtrace/lab-<prefix>[.json]. Safe to run twice, after a crash, or after an
interrupted up. Namespaces with the lab's names that svtrace did not create are left alone (and named).

Examples:
  sudo svtrace lab down
  sudo SVTRACE_LAB_PREFIX=mine- svtrace lab down --json
`,
    )
    .action(async (o) => {
      const r = await labDown();
      if (o.json) {
        const { names, ...rest } = r;
        process.stdout.write(
          `${JSON.stringify({ prefix: names.prefix, ...rest, teardownMs: round(r.teardownMs) })}\n`,
        );
        return;
      }
      if (!r.hadLab) process.stdout.write(`no lab (prefix "${r.names.prefix}"): nothing to remove\n`);
      else
        process.stdout.write(
          `lab down in ${round(r.teardownMs)} ms: removed ${r.deletedNamespaces.join(", ") || "no namespace"}` +
            `${r.stoppedProcesses.length ? `; stopped ${r.stoppedProcesses.map((p) => `${p.role} ${p.pid}`).join(", ")}` : ""}\n`,
        );
      if (r.foreignNamespaces.length)
        process.stderr.write(
          `svtrace: left alone: ${r.foreignNamespaces.join(", ")} (not created by svtrace)\n`,
        );
    });

  lab
    .command("status")
    .description("show what the lab has: namespaces, interfaces, switch, processes (exit 1 if not up)")
    .option("--json", "one JSON object (shape below)")
    .addHelpText(
      "after",
      `
Exit status 0 when the lab is completely up ("healthy": true), 1 otherwise (no lab, half-done, or broken).

--json prints one object:
  { "prefix": "svt-", "stateFile": "/run/svtrace/lab-svt-.json", "runDir": "/run/svtrace/lab-svt-",
    "mode": "bridge"|"ovs"|"tap"|"qemu"|null, "phase": "up"|"creating"|null, "createdAt": ISO-time|null,
    "delayUs": µs the tap forwarder holds each frame (tap mode) | null,
    "healthy": true|false,
    "namespaces": [ { "role": "pub"|"hyp"|"vm", "name", "exists", "createdBySvtrace" } ],
    "interfaces": [ { "namespace", "name", "kind" ("veth"|"bridge"|"tun"|...), "operstate", "adminUp",
                      "carrier", "master", "mtu", "rxPackets", "rxDropped", "txPackets", "txDropped" } ],
    "ovs": null | { "bridge": "br-sv", "datapathType": "netdev", "ports": [ { "name", "ofport" } ], "flows": [..] },
    "processes": [ { "role": "ovsdb-server"|"ovs-vswitchd"|"forwarder"|"qemu", "pid", "alive", "cmdline",
                     "threads": [ { "tid", "name", "policy" (0 OTHER, 1 FIFO), "rtPriority" } ] } ],
    "forwarder": null | { "frames", "bytes", "readErrors", "writeErrors", "delayUs", "holdLateMeanNs",
                          "holdLateMaxNs" (with a delay: how late writes were after their deadline),
                          "scheduling", "updatedAt" },
    "guest": null | { "qemuPid", "qemuAlive", "accel": "tcg"|"kvm", "release" (guest uname -r), "kernel",
                      "kernelPackage", "bootMs" (QEMU start to the agent's first answer), "bootedAt", "memoryMb",
                      "mac", "channel": "answers"|"busy"|"no answer", "busyPid", "uptimeS",
                      "clockOffsetMs" (guest minus host CLOCK_REALTIME, one ping; ± pingRttMs/2), "pingRttMs" },
    "problems": [ "one line per problem" ] }

Examples:
  svtrace lab status
  svtrace lab status --json | jq '.interfaces[] | {namespace, name, operstate}'
`,
    )
    .action(async (o) => {
      const s = await labStatus();
      if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
      else process.stdout.write(formatStatus(s));
      if (!s.healthy) process.exitCode = 1;
    });

  lab
    .command("exec")
    .description("run a command on the VM side: in the qemu lab's guest, else in the VM namespace")
    .argument("<cmd...>", "the command and its arguments (put -- before it if they start with -)")
    .option(
      "--detach <file>",
      "qemu lab: run it in the background in the guest, stdout and stderr to FILE; prints its pid and returns",
    )
    .passThroughOptions()
    .addHelpText(
      "after",
      `
The command runs without a shell (give sh -c '...' yourself if you need one). Its stdout and stderr come
back on yours and svtrace exits with its exit status (128+N if signal N killed it; 127 if it could not start).
SIGINT/SIGTERM are passed on to it. No stdin.
qemu lab: through the guest agent (a node script the guest's init starts) over a virtio-serial port, one
command at a time (a second one waits up to 60 s for the first to end); no network configuration or ssh. The host's / is the guest's (read-only), so the same
paths work; files written under /run/svtrace/lab-<prefix>/guest appear on the host at the same path.
Other labs: \`ip netns exec <prefix>vm CMD...\`, so one command line works in every mode.

Examples:
  sudo svtrace lab exec -- uname -r
  sudo svtrace lab exec -- svtrace subscribe --iface eth0 --duration 10 --json
  sudo svtrace lab exec --detach /run/svtrace/lab-svt-/guest/sub.log -- svtrace subscribe --iface eth0
`,
    )
    .action(async (cmd: string[], o) => {
      const r = await labExec({ argv: cmd, detach: o.detach });
      process.exitCode = r.status;
    });

  lab
    .command("clock")
    .description(
      "qemu lab: one round of clock exchanges with the guest (offset, round trip), for svtrace join",
    )
    .option("--samples <n>", "exchanges in the round (the fastest wins)", (v) => Number(v), 50)
    .option("--out <file>", "write the round (every exchange) as JSON here, for svtrace join --clock")
    .option("--json", "print the estimate as JSON")
    .addHelpText(
      "after",
      `
Each exchange: the host stamps its CLOCK_MONOTONIC, the guest agent answers with its CLOCK_MONOTONIC and
CLOCK_REALTIME, the host stamps again. The fastest exchange gives the offset, true within ± half its round trip.
Run one round before and one after the records you join (the agent's channel is busy while lab exec runs).

Example:
  sudo svtrace lab clock --out clock-start.json
`,
    )
    .action(async (o) => {
      const round = await guestClockRound(o.samples);
      if (o.out) writeFileSync(o.out, `${roundToJson(round)}\n`);
      const e = estimateRound(round);
      const est = {
        offset_ns: String(e.offsetNs),
        rtt_min_ns: Number(e.rttNs),
        rtt_median_ns: Number(e.medianRttNs),
        uncertainty_ns: Number(e.rttNs / 2n),
        samples: e.samples,
        guest_realtime_offset_ns: String(e.realtimeOffsetNs),
        method: round.method,
      };
      if (o.json) process.stdout.write(`${JSON.stringify(est)}\n`);
      else
        process.stdout.write(
          `guest monotonic = host monotonic - ${(Number(e.offsetNs) / 1e9).toFixed(6)} s ± ${(Number(e.rttNs) / 2000).toFixed(1)} µs ` +
            `(fastest of ${e.samples} round trips ${(Number(e.rttNs) / 1000).toFixed(1)} µs, median ${(Number(e.medianRttNs) / 1000).toFixed(1)} µs); ` +
            `guest wall clock off by ${(Number(e.realtimeOffsetNs) / 1e6).toFixed(1)} ms${o.out ? `; round written to ${o.out}` : ""}\n`,
        );
    });

  lab
    .command("kernel")
    .description(
      "fetch the qemu lab's guest kernel into the cache (lab up --switch qemu does it when needed)",
    )
    .option("--kernel-package <name>", "Debian package", DEFAULT_KERNEL_PACKAGE)
    .addHelpText(
      "after",
      `
Downloads the package with apt-get download (Debian's mirror only), unpacks it with dpkg-deb -x and runs
depmod -b, into ${KERNEL_CACHE}/<package>/ (about 400 MB). A cached package is not fetched again.

Example:
  sudo svtrace lab kernel --kernel-package linux-image-rt-amd64
`,
    )
    .action(async (o) => {
      const k = await guestKernel({ kernelPackage: o.kernelPackage });
      process.stdout.write(`${k.release} ${k.vmlinuz}\n`);
    });

  lab
    .command("forwarder", { hidden: true })
    .description("internal: the tap mode's vhost-like forwarder (started by `lab up --switch tap`)")
    .requiredOption("--hyp <ns>", "host namespace")
    .requiredOption("--vm <ns>", "VM namespace")
    .requiredOption("--from <tap>", "host tap to read")
    .requiredOption("--to <tap>", "VM tap to write")
    .requiredOption("--run-dir <dir>", "lab run directory (stats file)")
    .option("--thread <name>", "forwarder thread name (must start with vhost-)", "vhost-svt")
    .option("--priority <n>", "SCHED_FIFO priority, 0 = SCHED_OTHER", parsePriority, 45)
    .option("--delay-us <us>", "hold each frame this many µs after reading it", parseDelay, 0)
    .action(async (o) => {
      if (!o.thread.startsWith("vhost-")) fail(`forwarder thread name "${o.thread}" must start with vhost-`);
      process.exitCode = await runForwarder({
        hyp: o.hyp,
        vm: o.vm,
        from: o.from,
        to: o.to,
        thread: o.thread,
        priority: o.priority,
        delayUs: o.delayUs,
        runDir: o.runDir,
      });
    });
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function formatStatus(s: LabStatus): string {
  const lines: string[] = [];
  if (s.phase === null) lines.push(`no lab (prefix "${s.prefix}")`);
  else
    lines.push(
      `lab ${s.healthy ? "up" : s.phase === "up" ? "BROKEN" : "half-done"} (--switch ${s.mode}${s.delayUs ? ` --delay-us ${s.delayUs}` : ""}, prefix "${s.prefix}", since ${s.createdAt})`,
    );
  for (const ns of s.namespaces) {
    if (!ns.exists) continue;
    lines.push(`  ${ns.name}${ns.createdBySvtrace ? "" : " (not created by svtrace)"}`);
    for (const l of s.interfaces.filter((i) => i.namespace === ns.name))
      lines.push(
        `    ${l.name.padEnd(10)} ${(l.kind || "-").padEnd(7)} ${l.operstate.padEnd(8)}${l.master ? ` master ${l.master}` : ""}` +
          `${l.bridgePortState ? ` ${l.bridgePortState}` : ""}` +
          `  rx ${l.rxPackets} (drop ${l.rxDropped})  tx ${l.txPackets} (drop ${l.txDropped})`,
      );
  }
  if (s.ovs) {
    lines.push(
      `  OVS ${s.ovs.bridge} datapath ${s.ovs.datapathType}: ${s.ovs.ports.map((p) => `${p.name}=${p.ofport}`).join(" ")}`,
    );
    for (const f of s.ovs.flows) lines.push(`    flow ${f}`);
    for (const k of s.ovs.sockets)
      lines.push(
        `    ovs-vswitchd socket on ${k.device}: receive buffer ${Math.round(k.rcvbuf / 1024)} KiB, dropped ${k.drops}`,
      );
    if (s.ovs.receiveBufferProblem)
      lines.push(`    receive buffers left at the default: ${s.ovs.receiveBufferProblem}`);
  }
  for (const p of s.processes) {
    const t = p.threads
      .map((x) => `${x.name}(${x.policy === 1 ? `FIFO ${x.rtPriority}` : "OTHER"})`)
      .join(" ");
    lines.push(`  ${p.role} pid ${p.pid} ${p.alive ? "running" : "NOT RUNNING"}${t ? ` thread ${t}` : ""}`);
  }
  const g = s.guest;
  if (g)
    lines.push(
      `  guest: kernel ${g.release}, QEMU pid ${g.qemuPid ?? "?"} ${g.qemuAlive ? "running" : "NOT RUNNING"} (${g.accel}), ${g.memoryMb} MiB, booted in ${(g.bootMs / 1000).toFixed(1)} s at ${g.bootedAt}`,
      `  guest agent: ${g.channel === "busy" ? `busy (lab exec pid ${g.busyPid})` : g.channel}` +
        (g.clockOffsetMs !== null
          ? `, up ${g.uptimeS?.toFixed(0)} s, guest clock ${g.clockOffsetMs >= 0 ? "+" : ""}${g.clockOffsetMs} ms vs host (± ${((g.pingRttMs ?? 0) / 2).toFixed(1)} ms)`
          : ""),
    );
  if (s.forwarder)
    lines.push(
      `  forwarded ${s.forwarder.frames} frames, ${s.forwarder.writeErrors} write errors (${s.forwarder.scheduling})` +
        (s.delayUs
          ? `; each frame held ${s.delayUs} µs (writes late by mean ${s.forwarder.holdLateMeanNs ?? 0} ns, max ${s.forwarder.holdLateMaxNs ?? 0} ns)`
          : ""),
    );
  for (const p of s.problems) if (s.phase !== null) lines.push(`  problem: ${p}`);
  return `${lines.join("\n")}\n`;
}
