/**
 * End-to-end check of a lab: send numbered probe SV frames from the publisher NIC (pub0) and count what
 * reaches the VM NIC (vm0), plus any other frame seen there. Used by the lab tests and available to anyone who
 * wants to know that a lab really carries SV before starting a longer run.
 */
import { Worker } from "node:worker_threads";
import { labNames } from "./names.js";
import type { ProbeWorkerData, ProbeWorkerResult } from "./probe-worker.js";

export interface ProbeOptions {
  prefix?: string;
  /** frames to send (default 100); 0 only listens on vm0 for `settleMs` (counts chatter in otherFrames) */
  count?: number;
  /** spacing between frames in µs (default 1000) */
  intervalUs?: number;
  /** how long to wait for the last frames (default 1000 ms) */
  settleMs?: number;
  /** send 802.1Q-tagged frames with this VLAN id (priority 4) */
  vlan?: number;
  /** EtherType of the probe frames (default 0x88BA, SV) */
  etherType?: number;
}

export type ProbeResult = Omit<ProbeWorkerResult, "error">;

export async function probeLab(opts: ProbeOptions = {}): Promise<ProbeResult> {
  const n = labNames(opts.prefix);
  const data: ProbeWorkerData = {
    pubNs: n.pub,
    pubIf: n.pubIf,
    vmNs: n.vm,
    vmIf: n.vmIf,
    count: opts.count ?? 100,
    intervalUs: opts.intervalUs ?? 1000,
    settleMs: opts.settleMs ?? 1000,
    vlan: opts.vlan ?? null,
    etherType: opts.etherType ?? 0x88ba,
    marker: "svtrace-lab-probe",
  };
  const r = await new Promise<ProbeWorkerResult>((resolve, reject) => {
    const w = new Worker(new URL("./probe-worker.js", import.meta.url), { workerData: data });
    w.once("message", (m: ProbeWorkerResult) => resolve(m));
    w.once("error", reject);
    w.once("exit", (code) => reject(new Error(`probe worker exited (${code}) without a result`)));
  });
  if (r.error) throw new Error(`lab probe failed: ${r.error}`);
  return { sent: r.sent, received: r.received, duplicates: r.duplicates, otherFrames: r.otherFrames };
}
