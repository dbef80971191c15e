/**
 * Test worker: a deliberately lagging "application" for the tracer tests. A thread named svt-sub (the lab's
 * T4 filter) binds an AF_PACKET socket in the VM namespace, reads the first frame, sleeps `lagMs` while the
 * kernel queues the rest, then reads everything until the interface has been idle for `idleMs`, and reports how
 * many frames it read.
 */
import { parentPort, workerData } from "node:worker_threads";
import { PacketSocket } from "../../src/net/afpacket.js";
import { setThreadName } from "../../src/net/libc.js";

const { iface, netns, lagMs, idleMs } = workerData as {
  iface: string;
  netns: string;
  lagMs: number;
  idleMs: number;
};
setThreadName("svt-sub");
const sock = new PacketSocket({ iface, netns, rcvbuf: 64 * 1024 * 1024, recvTimeoutMs: 100 });
parentPort?.postMessage({ listening: true });
let count = 0;
const deadline = Date.now() + 60_000;
while (count === 0 && Date.now() < deadline) if (sock.recv()) count = 1;
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, lagMs);
let idleSince = Date.now();
while (Date.now() - idleSince < idleMs) {
  const f = sock.recv();
  if (f) {
    count += 1;
    idleSince = Date.now();
  }
}
sock.close();
parentPort?.postMessage({ count });
