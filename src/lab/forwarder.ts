/**
 * Body of the hidden `svtrace lab forwarder` process that `lab up --switch tap` starts detached: runs the
 * vhost-like copy loop in a worker thread (forwarder-worker.ts) and writes its counters to
 * <run dir>/forwarder-stats.json once a second. It ends with SIGTERM (from `lab down`).
 */
import { renameSync, writeFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { ForwarderMessage, ForwarderWorkerData } from "./forwarder-worker.js";
import type { ForwarderStats } from "./tap.js";

export interface ForwarderOptions {
  hyp: string;
  vm: string;
  from: string;
  to: string;
  thread: string;
  priority: number;
  /** hold each frame this many µs after reading it (0 = forward at once) */
  delayUs: number;
  runDir: string;
}

/** Runs until killed; resolves only if the worker stops (an error the log then explains). */
export function runForwarder(o: ForwarderOptions): Promise<number> {
  const counters = new SharedArrayBuffer(6 * 8);
  const view = new BigInt64Array(counters);
  const data: ForwarderWorkerData = {
    hyp: o.hyp,
    vm: o.vm,
    from: o.from,
    to: o.to,
    thread: o.thread,
    priority: o.priority,
    delayUs: o.delayUs,
    counters,
  };
  const statsFile = `${o.runDir}/forwarder-stats.json`;
  let scheduling = "";
  const writeStats = (): void => {
    const s: ForwarderStats = {
      frames: Number(Atomics.load(view, 0)),
      bytes: Number(Atomics.load(view, 1)),
      readErrors: Number(Atomics.load(view, 2)),
      writeErrors: Number(Atomics.load(view, 3)),
      delayUs: o.delayUs,
      ...(o.delayUs > 0
        ? {
            holdLateMeanNs: Math.round(
              Number(Atomics.load(view, 4)) / Math.max(1, Number(Atomics.load(view, 0))),
            ),
            holdLateMaxNs: Number(Atomics.load(view, 5)),
          }
        : {}),
      scheduling,
      updatedAt: new Date().toISOString(),
    };
    writeFileSync(`${statsFile}.tmp`, `${JSON.stringify(s)}\n`);
    renameSync(`${statsFile}.tmp`, statsFile);
  };
  const log = (msg: string): void => {
    process.stdout.write(`${new Date().toISOString()} forwarder[${process.pid}] ${msg}\n`);
  };
  return new Promise((resolve) => {
    const worker = new Worker(new URL("./forwarder-worker.js", import.meta.url), { workerData: data });
    let timer: NodeJS.Timeout | undefined;
    worker.on("message", (m: ForwarderMessage) => {
      if (m.type === "ready") {
        scheduling = m.scheduling;
        log(
          `ready: ${o.hyp}/${o.from} -> ${o.vm}/${o.to}, thread ${o.thread}, ${scheduling}` +
            `${o.delayUs > 0 ? `, each frame held ${o.delayUs} µs` : ""}`,
        );
        writeStats();
        timer = setInterval(writeStats, 1000);
      } else {
        log(`error: ${m.message}`);
      }
    });
    worker.on("error", (e) => log(`worker error: ${e.message}`));
    worker.on("exit", (code) => {
      if (timer) clearInterval(timer);
      log(`worker stopped (exit ${code})`);
      resolve(1);
    });
  });
}
