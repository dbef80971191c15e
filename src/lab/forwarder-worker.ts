/**
 * The tap forwarder's worker thread (the lab's stand-in for a vhost-net worker): names itself "vhost-…",
 * attaches the host tap (entering the hyp namespace) and the VM tap (entering the VM namespace), asks for
 * SCHED_FIFO, then copies every frame read from the host tap into the VM tap with blocking read()/write().
 */
import { parentPort, workerData } from "node:worker_threads";
import {
  EAGAIN,
  EINTR,
  enterNetns,
  errno,
  ioctl,
  lastError,
  O_CLOEXEC,
  O_RDWR,
  open,
  read,
  SCHED_FIFO,
  sched_setscheduler,
  setThreadName,
  write,
} from "../net/libc.js";

/** ioctl TUNSETIFF = _IOW('T', 202, int) */
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
/** struct ifreq is 40 bytes on x86-64: name[16], then the flags short */
const IFREQ_SIZE = 40;

export interface ForwarderWorkerData {
  hyp: string;
  vm: string;
  from: string;
  to: string;
  thread: string;
  priority: number;
  /** BigInt64Array over this: [frames, bytes, readErrors, writeErrors] */
  counters: SharedArrayBuffer;
}

export type ForwarderMessage = { type: "ready"; scheduling: string } | { type: "fatal"; message: string };

function attachTap(ns: string, name: string): number {
  enterNetns(ns);
  const fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) throw new Error(`cannot open /dev/net/tun: ${lastError()}`);
  const ifr = Buffer.alloc(IFREQ_SIZE);
  ifr.write(name, 0, 15, "ascii");
  ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI, 16);
  if (ioctl(fd, TUNSETIFF, ifr) < 0) throw new Error(`cannot attach tap ${name} in ${ns}: ${lastError()}`);
  return fd;
}

function main(): void {
  const d = workerData as ForwarderWorkerData;
  const port = parentPort;
  if (!port) return;
  setThreadName(d.thread);
  let fromFd: number;
  let toFd: number;
  try {
    fromFd = attachTap(d.hyp, d.from);
    toFd = attachTap(d.vm, d.to);
  } catch (e) {
    port.postMessage({ type: "fatal", message: (e as Error).message } satisfies ForwarderMessage);
    return;
  }
  let scheduling = "SCHED_OTHER";
  if (d.priority > 0) {
    if (sched_setscheduler(0, SCHED_FIFO, { sched_priority: d.priority }) === 0)
      scheduling = `SCHED_FIFO ${d.priority}`;
    else scheduling = `SCHED_OTHER (SCHED_FIFO ${d.priority} refused: ${lastError()})`;
  }
  const counters = new BigInt64Array(d.counters);
  port.postMessage({ type: "ready", scheduling } satisfies ForwarderMessage);

  const buf = Buffer.alloc(65536);
  let consecutiveErrors = 0;
  for (;;) {
    const n = read(fromFd, buf, buf.length);
    if (n < 0) {
      const e = errno();
      if (e === EINTR || e === EAGAIN) continue;
      Atomics.add(counters, 2, 1n);
      if (++consecutiveErrors > 1000) {
        port.postMessage({
          type: "fatal",
          message: `read ${d.from}: ${lastError()}`,
        } satisfies ForwarderMessage);
        return;
      }
      continue;
    }
    consecutiveErrors = 0;
    if (n === 0) continue;
    if (write(toFd, buf, n) < 0) Atomics.add(counters, 3, 1n);
    else {
      Atomics.add(counters, 0, 1n);
      Atomics.add(counters, 1, BigInt(n));
    }
  }
}

main();
