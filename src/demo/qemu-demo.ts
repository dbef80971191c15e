/**
 * `svtrace demo --switch qemu`: the whole thing on a real guest. Lab up with a QEMU guest, a subscriber in the
 * guest (in the background through the agent, so the channel stays free), the hypervisor-profile tracer on the
 * host and the vm-profile tracer in the guest with clock exchange rounds around them (../live/qemu-record.ts),
 * the publisher on the host, then the joined record's report and lab down (also on Ctrl-C and on errors).
 * No live screen: the two tracers run in two kernels; progress lines instead.
 */
import { existsSync, readFileSync } from "node:fs";
import { fail } from "../errors.js";
import { labDown, labUp } from "../lab/index.js";
import { labExec } from "../lab/lab-exec.js";
import { labNames } from "../lab/names.js";
import { recordQemuLab } from "../live/qemu-record.js";
import { runReport } from "../report/run-report.js";
import { CLI_MAIN, lastJson, SvtraceChild } from "./children.js";
import type { PublishSummary, SubscribeSummary } from "./demo.js";

export interface QemuDemoOptions {
  durationS: number;
  streams: number;
  out: string;
  backend?: string;
  thresholdUs: number;
  html?: string | null;
  out_: NodeJS.WritableStream;
  log?: (line: string) => void;
}

/** SIGINT the guest's subscriber (it prints its --json summary to its log) and read that summary. */
async function stopSubscriber(pid: string, log: string): Promise<SubscribeSummary | undefined> {
  if (!/^\d+$/.test(pid)) return undefined;
  await labExec({ argv: ["kill", "-INT", pid], onStdout: () => {}, onStderr: () => {} }).catch(
    () => undefined,
  );
  for (let i = 0; i < 60; i++) {
    const text = existsSync(log) ? readFileSync(log, "utf8") : "";
    const s = lastJson<SubscribeSummary>(
      text
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .join("\n"),
    );
    if (s) return s;
    await new Promise((r) => setTimeout(r, 500));
  }
  return undefined;
}

export async function runQemuDemo(opts: QemuDemoOptions): Promise<void> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const names = labNames();
  const lab = await labUp({ mode: "qemu" });
  try {
    log(
      lab.alreadyUp
        ? `svtrace demo: qemu lab (prefix ${names.prefix}) was already up: using it, and leaving it up`
        : `svtrace demo: lab up (qemu) in ${lab.setupMs.toFixed(0)} ms: ${names.pub}/pub0 -> ${names.hyp}/hyp-in -> br0 -> vnet0 => QEMU -> guest eth0`,
    );
    const subLog = `${names.guestDir}/demo-subscriber-${process.pid}.json`;
    let subPid = "";
    await labExec({
      argv: [
        process.execPath,
        CLI_MAIN,
        "subscribe",
        "--iface",
        "eth0",
        "--duration",
        String(opts.durationS + 600),
        "--json",
      ],
      detach: subLog,
      onStdout: (b) => {
        subPid = b.toString().trim();
        log(`svtrace demo: subscriber in the guest, pid ${subPid}, summary to ${subLog}`);
      },
    });
    let pub: SvtraceChild | undefined;
    let pubResult: PublishSummary | undefined;
    const abort = new AbortController();
    const rec = await recordQemuLab({
      out: opts.out,
      format: "arrow",
      backend: opts.backend,
      durationS: opts.durationS + 60, // a safety net: the publisher's end stops the run
      signal: abort.signal,
      log,
      onReady: (hp, gp) => {
        log(
          `svtrace demo: tracing host ${hp} and guest ${gp}; publishing ${opts.streams} streams x 4000 SV/s for ${opts.durationS} s`,
        );
        pub = new SvtraceChild("publisher", [
          ...["publish", "--iface", names.pubIf, "--netns", names.pub],
          ...["--streams", String(opts.streams), "--t0", "--duration", String(opts.durationS), "--json"],
        ]);
        void pub.done.then((r) => {
          pubResult = lastJson<PublishSummary>(r.stdout);
          if (r.code !== 0) log(`svtrace demo: the publisher failed: ${r.stderr.trim().split("\n").pop()}`);
          // the guest's subscriber lags under emulation (seconds behind at 8000 SV/s): give it time to read
          setTimeout(() => abort.abort(), Math.min(60, 5 + 1.5 * opts.durationS) * 1000).unref();
        });
      },
    });
    if (!pubResult) fail("the publisher did not report what it sent");
    const sub = await stopSubscriber(subPid, subLog);
    opts.out_.write(
      `\npublisher: sent ${pubResult.sent} SVs; joined ${rec.rows} SVs; subscriber in the guest: ${sub ? `received ${sub.received}, missing ${sub.missing}, duplicates ${sub.duplicates}` : `no summary (see ${subLog})`}\n`,
    );
    opts.out_.write(`Record: ${rec.hostRecord}\nRecord: ${rec.guestRecord}\nRecord: ${rec.out}\n`);
    const html = opts.html === null ? undefined : (opts.html ?? `${opts.out.replace(/\.arrow$/, "")}.html`);
    opts.out_.write(`\nReport of ${rec.out}:\n`);
    await runReport({
      files: [rec.out],
      thresholdsUs: [opts.thresholdUs],
      html,
      out: opts.out_ as never,
      progress: false,
    });
    if (html) opts.out_.write(`\nHTML report: ${html}\n`);
  } finally {
    if (!lab.alreadyUp) {
      await labDown().catch((e: unknown) =>
        log(`svtrace demo: lab down failed: ${(e as Error).message}; run svtrace lab down`),
      );
      log("svtrace demo: lab down");
    }
  }
}
