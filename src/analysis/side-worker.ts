/**
 * Worker thread of ./side-work.ts: smpCnt continuity and per-second series for each batch it is sent, the
 * results when told the input ended; counts the batches done in a shared counter for the sender's flow control.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type SideMessage, type SideOptions, type SideParts, SideState } from "./side-work.js";

const { options, parts, done } = workerData as { options: SideOptions; parts: SideParts; done: Int32Array };
const state = new SideState(options, parts);
let names: string[] = [];
parentPort?.on("message", (m: SideMessage) => {
  if (m.type === "batch") {
    if (m.batch.names.length > 0) names = m.batch.names;
    try {
      state.add({ ...m.batch, names });
    } catch (e) {
      Atomics.store(done, 1, 1);
      Atomics.notify(done, 0);
      throw e;
    }
    // tell the main pass one more batch is done (it waits when too many are in flight)
    Atomics.add(done, 0, 1);
    Atomics.notify(done, 0);
  } else {
    parentPort?.postMessage(state.result());
    parentPort?.close();
  }
});
