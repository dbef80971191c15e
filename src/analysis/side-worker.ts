/**
 * Worker thread of ./side-work.ts: smpCnt continuity and per-second series for each batch it is sent, the
 * results when told the input ended.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type SideMessage, SideState } from "./side-work.js";

const { segments, modulus } = workerData as { segments: number; modulus?: number };
const state = new SideState(segments, modulus);
let names: string[] = [];
parentPort?.on("message", (m: SideMessage) => {
  if (m.type === "batch") {
    if (m.batch.names.length > 0) names = m.batch.names;
    state.add({ ...m.batch, names });
  } else {
    parentPort?.postMessage(state.result());
    parentPort?.close();
  }
});
