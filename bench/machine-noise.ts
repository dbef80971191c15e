/**
 * How often this machine stops a thread that only reads the clock: a busy loop on CLOCK_MONOTONIC that counts the
 * gaps between consecutive reads longer than 20, 50 and 200 µs (what hwlatdetect/cyclictest call noise; on a
 * virtual machine mostly the host running something else on the vCPU, plus interrupts and kernel threads of
 * the guest). A paced sender cannot be steadier than this, whatever it does: the pacing benchmark prints it
 * beside its figures. The loop allocates nothing (int32 clock words, integer differences), so the JavaScript
 * garbage collector does not add stalls of its own.
 */
import { CLOCK_MONOTONIC, clock_gettime_raw } from "../src/net/libc.js";

export interface Noise {
  seconds: number;
  over20us: number;
  over50us: number;
  over200us: number;
  maxUs: number;
}

export function measureNoise(seconds: number): Noise {
  const ts = Buffer.alloc(16);
  const w = new Int32Array(ts.buffer, ts.byteOffset, 4);
  clock_gettime_raw(CLOCK_MONOTONIC, ts);
  const endSec = w[0] + Math.ceil(seconds);
  const endNs = w[2];
  let ps = w[0];
  let pns = w[2];
  let n20 = 0;
  let n50 = 0;
  let n200 = 0;
  let max = 0;
  for (;;) {
    clock_gettime_raw(CLOCK_MONOTONIC, ts);
    const s = w[0];
    const ns = w[2];
    // whole nanoseconds as small integers (no heap numbers): a gap over a second counts as a second
    const d = s === ps ? ns - pns : s === ps + 1 ? ns + 1_000_000_000 - pns : 1_000_000_000;
    if (d > 20_000) {
      n20++;
      if (d > 50_000) n50++;
      if (d > 200_000) n200++;
      if (d > max) max = d;
    }
    ps = s;
    pns = ns;
    if (s > endSec || (s === endSec && ns >= endNs)) break;
  }
  const secs = Math.ceil(seconds);
  return {
    seconds: secs,
    over20us: n20 / secs,
    over50us: n50 / secs,
    over200us: n200 / secs,
    maxUs: max / 1000,
  };
}

export function describeNoise(n: Noise): string {
  return (
    `machine noise (a thread reading the clock in a loop, ${n.seconds} s): stalls per second ` +
    `> 20 µs ${n.over20us.toFixed(0)}, > 50 µs ${n.over50us.toFixed(0)}, > 200 µs ${n.over200us.toFixed(1)}, ` +
    `longest ${n.maxUs.toFixed(0)} µs`
  );
}
