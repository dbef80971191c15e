/**
 * The tap forwarder's worker thread (the lab's stand-in for a vhost-net worker): names itself "vhost-…",
 * attaches the host tap (entering the hyp namespace) and the VM tap (entering the VM namespace), asks for
 * SCHED_FIFO, then copies every frame read from the host tap into the VM tap with blocking read()/write().
 * With a delay (lab up --delay-us N) each frame is held N µs from the moment read() returned it: a deadline
 * per frame, so a queue of frames keeps its spacing. The thread waits in ppoll() (woken by a new frame or
 * SPIN_NS before the head's deadline) and spins on CLOCK_MONOTONIC for the last SPIN_NS: a timer wake-up
 * alone is tens of µs late on a busy 2-vCPU host, more than the 5 % a 50 µs delay may be off.
 */
import { parentPort, workerData } from "node:worker_threads";
import {
  CLOCK_MONOTONIC,
  clock_gettime,
  EAGAIN,
  EINTR,
  enterNetns,
  errno,
  ioctl,
  lastError,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  open,
  POLLIN,
  ppoll,
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
  /** hold each frame this many µs after reading it (0 = forward at once) */
  delayUs: number;
  /** BigInt64Array over this: [frames, bytes, readErrors, writeErrors, lateNsSum, lateNsMax] */
  counters: SharedArrayBuffer;
}

export type ForwarderMessage = { type: "ready"; scheduling: string } | { type: "fatal"; message: string };

/** The last part of a hold is spun, not slept (see the file comment). */
const SPIN_NS = 100_000;

function attachTap(ns: string, name: string, nonBlocking = false): number {
  enterNetns(ns);
  const fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0));
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
    fromFd = attachTap(d.hyp, d.from, d.delayUs > 0);
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

  if (d.delayUs > 0) {
    const why = holdLoop(d, fromFd, toFd, counters);
    port.postMessage({ type: "fatal", message: why } satisfies ForwarderMessage);
    return;
  }
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

const ts = { tv_sec: 0, tv_nsec: 0 };
/** CLOCK_MONOTONIC in ns as a double (exact below 2^53 ns = 104 days of uptime, then 1 ns steps of 2). */
function monoNs(): number {
  clock_gettime(CLOCK_MONOTONIC, ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/** Forward with a hold of d.delayUs per frame; returns only on a persistent read error. */
function holdLoop(d: ForwarderWorkerData, fromFd: number, toFd: number, counters: BigInt64Array): string {
  const delayNs = d.delayUs * 1000;
  const buf = Buffer.alloc(65536);
  const queue: { data: Buffer; due: number }[] = [];
  const pfd = { fd: fromFd, events: POLLIN, revents: 0 };
  const idle = { tv_sec: 0, tv_nsec: 200_000_000 };
  const wait = { tv_sec: 0, tv_nsec: 0 };
  let consecutiveErrors = 0;
  for (;;) {
    // take every frame the tap has now, each stamped when read() returned it
    for (;;) {
      const n = read(fromFd, buf, buf.length);
      if (n > 0) {
        // the deadline from the read's return, before the copy out of the read buffer
        const due = monoNs() + delayNs;
        queue.push({ data: Buffer.from(buf.subarray(0, n)), due });
        consecutiveErrors = 0;
        continue;
      }
      if (n === 0) break;
      const e = errno();
      if (e === EAGAIN) break;
      if (e === EINTR) continue;
      Atomics.add(counters, 2, 1n);
      if (++consecutiveErrors > 1000) return `read ${d.from}: ${lastError()}`;
      break;
    }
    const head = queue[0];
    if (!head) {
      ppoll(pfd, 1, idle, null);
      continue;
    }
    let now = monoNs();
    const left = head.due - now;
    if (left > SPIN_NS) {
      const ns = Math.round(left - SPIN_NS);
      wait.tv_sec = Math.floor(ns / 1e9);
      wait.tv_nsec = ns % 1e9;
      ppoll(pfd, 1, wait, null);
      continue;
    }
    while (now < head.due) now = monoNs();
    queue.shift();
    if (write(toFd, head.data, head.data.length) < 0) Atomics.add(counters, 3, 1n);
    else {
      Atomics.add(counters, 0, 1n);
      Atomics.add(counters, 1, BigInt(head.data.length));
      const late = BigInt(Math.round(now - head.due));
      Atomics.add(counters, 4, late);
      if (late > Atomics.load(counters, 5)) Atomics.store(counters, 5, late);
    }
  }
}

main();
