/**
 * Parser for the lines the generated program prints (format documented in ./generate.ts) and for what
 * bpftrace itself prints on stdout ("Attaching N probes...", "Lost N events", map dumps).
 * Pure: one line in, one typed event out.
 */

import { packedWords } from "./generate.js";

export interface RowEvent {
  kind: "row";
  /** false for an I line: the SV never reached the last point */
  complete: boolean;
  smpCnt: number;
  /** iteration as the kernel counted it (2 = the first smpCnt period the first point saw) */
  iteration: number;
  appid: number;
  /** raw refrTm (seconds << 24 | fraction), 0n when absent */
  refrTm: bigint;
  /** per point, 0n = not seen */
  times: bigint[];
  /** the stream number (list index or S-line number) as printed */
  stream: string;
}

export type OutputEvent =
  | { kind: "ready"; time: bigint }
  | RowEvent
  | { kind: "stream"; stream: string; svID: string }
  /** a ring slot printed from END: a row only when its index is between the CPU's ring tail and head */
  | { kind: "staged"; cpu: number; slot: number; row: RowEvent }
  /** a CPU's ring head (rows queued so far) or tail (rows drained so far), printed from END */
  | { kind: "ringHead" | "ringTail"; cpu: number; index: number }
  /** the drain fell more than a ring behind on a CPU: these rows were overwritten before being printed */
  | { kind: "overrun"; cpu: number; rows: number }
  | { kind: "gap"; expected: number; got: number; stream: string }
  | { kind: "duplicate"; point: number; smpCnt: number; stream: string }
  | { kind: "mapEntries"; count: number }
  | { kind: "end" }
  /** an SV still waiting in the kernel at exit: times of the points before the last (0 = not seen) */
  | { kind: "pending"; stream: string; smpCnt: number; iteration: number; times: bigint[] }
  | { kind: "lost"; count: number }
  /** record --context: the CPU and thread that ran point `point` (1-based) for an SV */
  | {
      kind: "context";
      stream: string;
      smpCnt: number;
      iteration: number;
      point: number;
      cpu: number;
      tid: number;
      comm: string;
    }
  | { kind: "attaching"; probes: number }
  | { kind: "blank" }
  | { kind: "other"; text: string };

function splitFields(rest: string, count: number): { fields: string[]; tail: string } | undefined {
  const fields: string[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const sp = rest.indexOf(" ", pos);
    if (sp < 0) return undefined;
    fields.push(rest.slice(pos, sp));
    pos = sp + 1;
  }
  return { fields, tail: rest.slice(pos) };
}

/** A non-empty run of decimal digits (a loop: this runs on every field of every row). */
function isUint(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const TWO16 = 65536;
const TWO32 = 4294967296;
const MASK32 = 0xffffffffn;

/** Low and high 32-bit halves of an unsigned decimal, through a double when it is exact (< 2^53). */
function halves(s: string, out: number[]): void {
  if (s.length <= 15) {
    const v = Number(s);
    out[0] = v % TWO32;
    out[1] = Math.floor(v / TWO32);
  } else {
    const b = BigInt(s);
    out[0] = Number(b & MASK32);
    out[1] = Number(b >> 32n);
  }
}

const word = [0, 0];

/** A packed row's fields (A, refrTm, tn, P.., stream), all unsigned decimal, to a row event. */
function unpackRow(f: string[], pointCount: number): RowEvent {
  halves(f[0], word);
  const smpCnt = word[0] % TWO16;
  const appid = Math.floor(word[0] / TWO16);
  const iteration = word[1];
  const tn = BigInt(f[2]);
  const times = new Array<bigint>(pointCount);
  times[pointCount - 1] = tn;
  const words = packedWords(pointCount);
  for (let w = 0; w < words; w++) {
    halves(f[3 + w], word);
    const lo = 2 * w;
    times[lo] = word[0] === 0 ? 0n : tn - BigInt(word[0] - 1);
    if (lo + 1 < pointCount - 1) times[lo + 1] = word[1] === 0 ? 0n : tn - BigInt(word[1] - 1);
  }
  return {
    kind: "row",
    complete: true,
    smpCnt,
    iteration,
    appid,
    refrTm: f[1] === "0" ? 0n : BigInt(f[1]),
    times,
    stream: f[3 + words],
  };
}

/** Parse one stdout line of a generated program with `pointCount` points. */
export function parseLine(line: string, pointCount: number): OutputEvent {
  const tag = line.slice(0, 2);
  if (tag === "R ") {
    const f = line.slice(2).split(" ");
    if (f.length === 4 + packedWords(pointCount) && f.every(isUint)) return unpackRow(f, pointCount);
  } else if (tag === "S ") {
    const sp = line.indexOf(" ", 2);
    if (sp > 2 && isUint(line.slice(2, sp)))
      return { kind: "stream", stream: line.slice(2, sp), svID: line.slice(sp + 1) };
  } else if (tag === "F " || tag === "I ") {
    const f = splitFields(line.slice(2), 4 + pointCount);
    if (f?.fields.every(isUint) && isUint(f.tail)) {
      const [smp, it, appid, rt, ...times] = f.fields;
      return {
        kind: "row",
        complete: tag === "F ",
        smpCnt: Number(smp),
        iteration: Number(it),
        appid: Number(appid),
        refrTm: BigInt(rt),
        times: times.map((t) => BigInt(t)),
        stream: f.tail,
      };
    }
  } else if (tag === "D ") {
    const f = splitFields(line.slice(2), 2);
    if (f?.fields.every(isUint) && isUint(f.tail))
      return { kind: "gap", expected: Number(f.fields[0]), got: Number(f.fields[1]), stream: f.tail };
  } else if (tag === "U ") {
    const f = splitFields(line.slice(2), 2);
    if (f?.fields.every(isUint) && isUint(f.tail))
      return { kind: "duplicate", point: Number(f.fields[0]), smpCnt: Number(f.fields[1]), stream: f.tail };
  }
  if (tag === "C ") {
    const f = splitFields(line.slice(2), 6);
    if (f?.fields.every(isUint))
      return {
        kind: "context",
        stream: f.fields[0] as string,
        smpCnt: Number(f.fields[1]),
        iteration: Number(f.fields[2]),
        point: Number(f.fields[3]),
        cpu: Number(f.fields[4]),
        tid: Number(f.fields[5]),
        comm: f.tail,
      };
  }
  if (line.trim() === "") return { kind: "blank" };
  if (line.startsWith("READY ")) {
    const t = line.slice(6).trim();
    if (isUint(t)) return { kind: "ready", time: BigInt(t) };
  }
  if (line === "END") return { kind: "end" };
  let m = /^@pend: (-?\d+)$/.exec(line);
  if (m) return { kind: "mapEntries", count: Math.max(0, Number(m[1])) };
  // @p[stream, smpCnt, slot]: (iteration, t1, .., tn-1)
  m = /^@p\[(\d+), (\d+), \d+\]: \(([\d, ]+)\)$/.exec(line);
  if (m) {
    const f = m[3].split(", ");
    if (f.length === pointCount && f.every(isUint))
      return {
        kind: "pending",
        stream: m[1],
        smpCnt: Number(m[2]),
        iteration: Number(f[0]),
        times: f.slice(1).map((t) => BigInt(t)),
      };
  }
  m = /^@b([ht])\[(\d+)\]: (\d+)$/.exec(line);
  if (m) return { kind: m[1] === "h" ? "ringHead" : "ringTail", cpu: Number(m[2]), index: Number(m[3]) };
  m = /^O (\d+) (\d+)$/.exec(line);
  if (m) return { kind: "overrun", cpu: Number(m[1]), rows: Number(m[2]) };
  m = /^@b\[(\d+), (\d+)\]: \(([\d, ]+)\)$/.exec(line);
  if (m) {
    const f = m[3].split(", ");
    if (f.length === 4 + packedWords(pointCount) && f.every(isUint))
      return { kind: "staged", cpu: Number(m[1]), slot: Number(m[2]), row: unpackRow(f, pointCount) };
  }
  m = /^Lost (\d+) events/.exec(line);
  if (m) return { kind: "lost", count: Number(m[1]) };
  m = /^Attaching (\d+) probes?/.exec(line);
  if (m) return { kind: "attaching", probes: Number(m[1]) };
  return { kind: "other", text: line };
}

/** refrTm as printed (seconds << 24 | fraction of 2^-24 s) -> ns since 1970 on the publisher's clock. */
export function refrTmToNs(raw: bigint): bigint | null {
  if (raw === 0n) return null;
  const seconds = raw >> 24n;
  const fraction = raw & 0xffffffn;
  return seconds * 1_000_000_000n + (fraction * 1_000_000_000n + 0x800000n) / 0x1000000n;
}
