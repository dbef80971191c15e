/**
 * The one bpftrace program generator: (points, streams, features) -> program text and environment.
 *
 * Every probe block is produced by the same template functions (bpftrace 0.17 has no macros), one block per
 * attach point with the points that share it told apart by their filters. At each point the SV key is extracted
 * from the frame: VLAN tag at +12 or already in skb->vlan_all, BER lengths short/long/non-minimal, optional
 * security field, svID compared exactly (length and bytes), smpCnt and refrTm found by walking the ASDU TLVs.
 * Matching happens in the kernel keyed by (stream, smpCnt, iteration), each point counting the smpCnt wraps
 * it sees (so a reader lagging by more than one period still pairs correctly): the first point stores its
 * time, middle points theirs, the last point deletes the entries and queues one packed row per SV in a per-CPU
 * ring that a timer probe drains (see emitRow and drainProbes for why). When the first
 * point finds the same (stream, smpCnt) still pending from STALE_PERIODS periods ago it prints it as incomplete
 * and clears it, so no entry outlives STALE_PERIODS smpCnt periods.
 *
 * Output lines (all on stdout; the parser is ./output.ts):
 *   READY <time>                                      BEGIN ran: every probe is attached
 *   S <stream> <svID>                                 a new svID got the number <stream> (all-streams mode)
 *   R <A> <refrTm> <tn> <P1> .. <Pm> <stream>         one SV reached the last point, packed (see emitRow):
 *                                                     A = smpCnt | appid << 16 | it << 32; each P holds two
 *                                                     earlier points as 32-bit (tn - tj + 1), 0 = not seen;
 *                                                     printed by the drain probe, several per perf event
 *   O <cpu> <rows>                                    the drain fell behind: rows overwritten in a CPU's ring
 *   F <smpCnt> <it> <appid> <refrTm> <t1> .. <tn> <stream>  the same, unpacked (a delta did not fit 32 bits)
 *   I <smpCnt> <it> <appid> 0 <t1> .. <tn-1> 0 <stream>     an SV that never reached the last point (stale)
 *   D <expected> <got> <stream>                       smpCnt discontinuity at the first point (gap or wrap)
 * Frames with several ASDUs are keyed by their first ASDU; the next frame is expected at smpCnt + noASDU.
 *   U <point> <smpCnt> <stream>                       the same SV seen twice at a point (duplicate)
 *   @in: <n>                                          SVs entered at the first point so far (every second)
 *   @pend: <n>                                        entries now in the first point's map (every second)
 *   END, then @p<k>[<stream>, <smpCnt>, <it>]: <time> leftovers at exit,
 *   @bh[<cpu>]: <head>, @bt[<cpu>]: <tail>, @b[<cpu>, <slot>]: (<R fields>)  rows still queued at exit:
 *                                                     indexes tail..head-1, slot = index % RING_ROWS
 * <it> is the iteration (2 = the first smpCnt period the first point saw, 1 = the one before).
 * <stream> is a number: a 1-based index into the svID list when streams are given, else the number an S line
 * gave the svID. <refrTm> is (seconds << 24 | fraction), 0 when the ASDU has none. Times are
 * nanoseconds on CLOCK_MONOTONIC (`nsecs`), or CLOCK_TAI with `nsecs(tai)` when bpftrace has it.
 */
import { readFileSync } from "node:fs";
import { fail } from "../cli/errors.js";
import { ATTACH_POINTS, type AttachName, describePoint, type ProbePoint } from "../probes/catalogue.js";
import type { ClockName } from "../record/schema.js";
import type { BpftraceFeatures } from "./features.js";

/** bpftrace printf takes at most this many arguments in 0.17: bounds the number of points. */
export const MAX_POINTS = 8;
/** BPFTRACE_STRLEN default; svIDs longer than this minus one cannot be matched exactly. */
export const MAX_SVID_LENGTH = 63;
/**
 * How many smpCnt periods (seconds, at a 4000/4800 modulus) an SV may take from the first point to the last
 * before its entry is printed as incomplete. Two was too few for the tap lab on two busy cores, where the
 * subscriber (T4) fell more than two seconds behind T1 and SVs were split into an incomplete row and a row
 * without T1..T3.
 */
export const STALE_PERIODS = 4;
/**
 * Rows per printf of the drain probe: as many as fit 384 bytes of printf arguments, under bpftrace's 512-byte
 * BPF stack (checked by compiling every point count in test/bpftrace-generate.test.ts): 8 rows at 4 points.
 */
export function rowsPerEvent(pointCount: number): number {
  const fields = 4 + packedWords(pointCount);
  return Math.min(8, Math.max(1, Math.floor(384 / (8 * fields))));
}

/** Ring slots per CPU for complete rows waiting for the drain probe (8192: 200 ms at 38 400 SV/s on one CPU). */
export const RING_ROWS = 8192;
/** The drain probe's period. */
export const DRAIN_MS = 2;
/** Bounded loops of a drain run: printfs of rowsPerEvent rows per CPU (about 100 000 rows/s per CPU). */
const DRAIN_BATCHES = 16;
/** CPUs per drain probe: each is one BPF program, and the verifier walks every iteration of its loops. */
const CPUS_PER_DRAIN_PROBE = 4;

/** The number of possible CPUs (cpu ids are below it), from sysfs; 1 when unreadable. */
export function possibleCpus(): number {
  try {
    const text = readFileSync("/sys/devices/system/cpu/possible", "utf8").trim();
    let max = 0;
    for (const part of text.split(",")) max = Math.max(max, ...part.split("-").map(Number));
    return Number.isFinite(max) ? max + 1 : 1;
  } catch {
    return 1;
  }
}

/** bpftrace's command-line options for generated programs: full output buffering (see FLUSH_PAD). */
export const BPFTRACE_ARGS = ["-B", "full"];
/** Spaces longer than the 4 KiB stdio buffer bpftrace has on a pipe: printing them flushes what came before. */
export const FLUSH_PAD = " ".repeat(4100);

export interface GenerateOptions {
  points: ProbePoint[];
  /** explicit svIDs (exact); undefined or empty: every stream, keyed by the svID string */
  streams?: string[];
  features: BpftraceFeatures;
  clock: ClockName;
  /** for the header comment */
  profile?: string;
  /** exit right after READY: checks that every probe compiles and attaches (tests, --check) */
  exitInBegin?: boolean;
  /** possible CPUs (the drain probes read one ring per CPU); default: possibleCpus() */
  cpus?: number;
}

export interface GeneratedProgram {
  text: string;
  /** stream index i (1-based in the output) -> svID, when streams were given */
  streams?: string[];
  /** clock of the printed times: "monotonic" (convert with an offset) or "tai" (nsecs(tai)) */
  timeSource: "monotonic" | "tai";
  points: ProbePoint[];
}

/** Validate an svID for use as a bpftrace string literal. */
export function checkSvid(svID: string): void {
  if (svID.length === 0) fail("empty svID in the stream list");
  if (svID.length > MAX_SVID_LENGTH)
    fail(`svID "${svID.slice(0, 20)}..." is longer than ${MAX_SVID_LENGTH} bytes`);
  if (!/^[\x20-\x7e]+$/.test(svID) || /["\\]/.test(svID))
    fail(
      `svID ${JSON.stringify(svID)} has characters svtrace cannot match in the kernel (use printable ASCII without " or \\)`,
    );
}

/**
 * Read the TLV header at $q with one 4-byte read (little-endian CPU: byte 0 is the tag): $tg = tag,
 * $L = length (short form, or long form 0x81 n / 0x82 n n, also non-minimal), $h = tag + length bytes.
 */
function tlvHeader(indent: string): string {
  return [
    "$w = (uint64)*(uint32 *)($p + $q);",
    "$tg = $w & 0xff;",
    "$b = ($w >> 8) & 0xff;",
    "$L = $b; $h = (uint64)2;",
    "if ($b == 0x81) { $L = ($w >> 16) & 0xff; $h = 3; }",
    "if ($b == 0x82) { $L = ((($w >> 16) & 0xff) << 8) | (($w >> 24) & 0xff); $h = 4; }",
  ]
    .map((l) => indent + l)
    .join("\n");
}

/** The SV key extraction shared by every probe: sets $appid, $sv, $smp, $rt and $s (or returns). */
function extractKey(streams: string[] | undefined, indent: string): string {
  const i = indent;
  const lines = [
    `${i}// frame: MAC header, 802.1Q tag in the frame (before untagging) or already in skb->vlan_all`,
    `${i}if ((uint64)$skb->mac_header == 0xffff) { return; }`,
    `${i}$p = $skb->head + $skb->mac_header;`,
    `${i}$e = (uint64)12;`,
    `${i}$w = (uint64)*(uint32 *)($p + 12);`,
    `${i}if (($w & 0xffff) == 0x0081) { $e = 16; $w = (uint64)*(uint32 *)($p + 16); }`,
    `${i}if (($w & 0xffff) != 0xba88) { return; }`,
    `${i}$appid = ((($w >> 16) & 0xff) << 8) | (($w >> 24) & 0xff);`,
    `${i}// savPdu 60, noASDU 80, [security 81], seqASDU A2, ASDU 30, svID 80. Fast path (two 8-byte reads instead`,
    `${i}// of five): every length short, no security: 60 L 80 01 NA A2 L 30 | L 80 Lsv; else the TLV walk (any form)`,
    `${i}$q = $e + 10;`,
    `${i}$x = *(uint64 *)($p + $q);`,
    `${i}$y = *(uint64 *)($p + $q + 8);`,
    `${i}if (($x & 0x80ff) == 0x0060 && (($x >> 16) & 0xffff) == 0x0180 && (($x >> 40) & 0x80ff) == 0x00a2 && ($x >> 56) == 0x30 && ($y & 0xff80) == 0x8000 && ($y & 0x800000) == 0) {`,
    `${i}  $na = ($x >> 32) & 0xff;`,
    `${i}  $vl = ($y >> 16) & 0xff;`,
    `${i}  $q = $q + 11;`,
    `${i}} else {`,
    tlvHeader(`${i}  `),
    `${i}  if ($tg != 0x60) { return; }`,
    `${i}  $q = $q + $h;`,
    tlvHeader(`${i}  `),
    `${i}  if ($tg != 0x80) { return; }`,
    `${i}  $na = (uint64)1;`,
    `${i}  if ($L == 1) { $na = $h == 2 ? ($w >> 16) & 0xff : (uint64)*(uint8 *)($p + $q + $h); }`,
    `${i}  $q = $q + $h + $L;`,
    tlvHeader(`${i}  `),
    `${i}  if ($tg == 0x81) {`,
    `${i}    $q = $q + $h + $L;`,
    tlvHeader(`${i}    `),
    `${i}  }`,
    `${i}  if ($tg != 0xa2) { return; }`,
    `${i}  $q = $q + $h;`,
    tlvHeader(`${i}  `),
    `${i}  if ($tg != 0x30) { return; }`,
    `${i}  $q = $q + $h;`,
    tlvHeader(`${i}  `),
    `${i}  if ($tg != 0x80) { return; }`,
    `${i}  $vl = $L;`,
    `${i}  $q = $q + $h;`,
    `${i}}`,
    `${i}$sv = str($p + $q, $vl);`,
    `${i}$q = $q + $vl;`,
    `${i}// the ASDU after svID, in tag order: [datSet 81], smpCnt 82, confRev 83, [refrTm 84]. Fast path: no datSet,`,
    `${i}// short forms: 82 02 hi lo 83 04 c c | c c 84 08, refrTm after; else the TLV walk`,
    `${i}$x = *(uint64 *)($p + $q);`,
    `${i}$rt = (uint64)0;`,
    `${i}if (($x & 0xffff) == 0x0282 && (($x >> 32) & 0xffff) == 0x0483) {`,
    `${i}  $smp = ((($x >> 16) & 0xff) << 8) | (($x >> 24) & 0xff);`,
    `${i}  $y = *(uint64 *)($p + $q + 8);`,
    `${i}  if ((($y >> 16) & 0xffff) == 0x0884) { $rt = (uint64)bswap(*(uint64 *)($p + $q + 12)) >> 8; }`,
    `${i}} else {`,
    tlvHeader(`${i}  `),
    `${i}  if ($tg == 0x81) {`,
    `${i}    $q = $q + $h + $L;`,
    tlvHeader(`${i}    `),
    `${i}  }`,
    `${i}  if ($tg != 0x82 || $L != 2) { return; }`,
    `${i}  // short form: the value is in the header read already`,
    `${i}  $v = $h == 2 ? $w >> 16 : (uint64)*(uint16 *)($p + $q + $h);`,
    `${i}  $smp = (($v & 0xff) << 8) | (($v >> 8) & 0xff);`,
    `${i}  $q = $q + $h + $L;`,
    tlvHeader(`${i}  `),
    `${i}  if ($tg == 0x83) {`,
    `${i}    $q = $q + $h + $L;`,
    tlvHeader(`${i}    `),
    `${i}  }`,
    `${i}  if ($tg == 0x84 && $L == 8) { $rt = (uint64)bswap(*(uint64 *)($p + $q + $h)) >> 8; }`,
    `${i}}`,
  ];
  if (streams && streams.length > 0) {
    lines.push(`${i}// streams: exact svID (length and bytes) -> index`);
    lines.push(`${i}$s = (uint64)0;`);
    streams.forEach((id, k) => {
      lines.push(
        `${i}${k === 0 ? "" : "else "}if ($vl == ${id.length} && $sv == "${id}") { $s = ${k + 1}; }`,
      );
    });
    lines.push(`${i}if ($s == 0) { return; }`);
  } else {
    lines.push(
      `${i}// stream id: a number per svID (the map key is the exact svID string), told to svtrace once by an S line;`,
      `${i}// ids are (per-CPU counter << 16 | cpu), so two CPUs never hand out the same id`,
      `${i}$s = @sid[$sv, 0];`,
      `${i}if ($s == 0) {`,
      `${i}  $c = (uint64)cpu;`,
      `${i}  $sn = @sn[$c] + 1;`,
      `${i}  @sn[$c] = $sn;`,
      `${i}  $s = ($sn << 16) | $c;`,
      `${i}  @sid[$sv, 0] = $s;`,
      `${i}  printf("S %llu %s\\n", $s, $sv);`,
      `${i}}`,
    );
  }
  return lines.join("\n");
}

/** The condition that selects one point within its attach block. */
function filterCondition(p: ProbePoint): string {
  const a = ATTACH_POINTS[p.attach];
  const f = p.filter;
  const c: string[] = [];
  if (f.dev !== undefined) c.push(`${a.hasDevName ? "$dn" : "$sd"} == "${f.dev}"`);
  if (f.netns) {
    c.push(
      f.netns.via === "task"
        ? `(uint64)curtask->nsproxy->net_ns->ns.inum == ${f.netns.inode}`
        : `(uint64)$skb->dev->nd_net.net->ns.inum == ${f.netns.inode}`,
    );
  }
  if (f.comm !== undefined) c.push(`comm == "${f.comm}"`);
  if (f.commPrefix !== undefined) c.push(`strncmp(comm, "${f.commPrefix}", ${f.commPrefix.length}) == 0`);
  if (f.tids && f.tids.length > 0) c.push(`(${f.tids.map((t) => `tid == ${t}`).join(" || ")})`);
  return c.length > 0 ? c.join(" && ") : "1";
}

function checkFilterStrings(p: ProbePoint): void {
  const f = p.filter;
  for (const s of [f.dev, f.comm, f.commPrefix]) {
    if (s !== undefined && (!/^[\x21-\x7e]{1,15}$/.test(s) || /["\\]/.test(s)))
      fail(`point ${p.name}: bad device or thread name ${JSON.stringify(s)} (1-15 printable characters)`);
  }
}

/**
 * Per-point iteration (smpCnt wraps seen at this point), kept in @w[stream, k] as (iteration << 32 | last + 1);
 * at the first point last + noASDU (the next expected smpCnt, for the gap check), at later points a value up to
 * ITERATION_WORD_STEP behind (written back only on a wrap or a step that large).
 * Iterations start at 2 at the first point (so an SV from the period before it, still queued for a later
 * point, can be 1); a later point seeing a stream for the first time takes the first point's iteration, minus
 * one when the SV is from before the first point's last wrap. A backward jump to
 * below half of the last counter is a wrap; a small one is a late or repeated SV of the same period.
 */
function iterationCode(k: number, indent: string): string {
  const i = indent;
  const lines = [
    `${i}$wv = @w[$s, ${k}];`,
    `${i}$lp = $wv & 0xffffffff;`,
    `${i}$it = $wv >> 32;`,
    `${i}if ($lp == 0) {`,
  ];
  if (k === 1) lines.push(`${i}  $it = 2;`);
  else
    lines.push(
      `${i}  $w1 = @w[$s, 1];`,
      `${i}  $l1 = $w1 & 0xffffffff;`,
      `${i}  $it = $w1 >> 32;`,
      `${i}  if ($it > 1 && $smp + 1 > $l1 + ($l1 / 2) + 64) { $it = $it - 1; }`,
      `${i}  if ($it == 0) { $it = 1; }`,
    );
  // the first point keeps the next expected smpCnt (smpCnt + noASDU: a frame carries noASDU consecutive
  // samples), which is also what its gap check compares against ($nx, 0 = unknown); later points smpCnt + 1
  const next = k === 1 ? "$smp + $na" : "$smp + 1";
  if (k === 1) lines.splice(1, 0, `${i}$nx = $wv & 0xffffffff;`);
  if (k === 1) {
    lines.push(
      `${i}  $lp = ${next};`,
      `${i}} else {`,
      `${i}  if ($smp + 1 < $lp) {`,
      `${i}    if ($smp + 1 < $lp / 2) { $it = $it + 1; $lp = ${next}; }`,
      `${i}  } else { $lp = ${next}; }`,
      `${i}}`,
      `${i}@w[$s, ${k}] = ($it << 32) | $lp;`,
    );
    return lines.join("\n");
  }
  // later points only need the word to tell a wrap (a jump back below half of it) from a late SV: they write it
  // back when it changes by a wrap or by at least ${ITERATION_WORD_STEP} samples, not for every SV (a map update saved)
  lines.push(
    `${i}  $lp = ${next};`,
    `${i}  $up = 1;`,
    `${i}} else {`,
    `${i}  if ($smp + 1 < $lp) {`,
    `${i}    if ($smp + 1 < $lp / 2) { $it = $it + 1; $lp = ${next}; $up = 1; }`,
    `${i}  } else {`,
    `${i}    if ($smp + 1 >= $lp + ${ITERATION_WORD_STEP}) { $lp = ${next}; $up = 1; }`,
    `${i}  }`,
    `${i}}`,
    `${i}if ($up) { @w[$s, ${k}] = ($it << 32) | $lp; }`,
  );
  lines.splice(0, 0, `${i}$up = (uint64)0;`);
  return lines.join("\n");
}

/** How far (samples) a later point's iteration word may lag its last smpCnt: far below any smpCnt modulus. */
const ITERATION_WORD_STEP = 16;

/** The action of point k (1-based) of n, at the end of its attach block. */
function pointAction(k: number, n: number, streamFmt: string, now: string, indent: string): string {
  const i = indent;
  const key = "[$s, $smp, $it]";
  const staleKey = `[$s, $smp, $it - ${STALE_PERIODS}]`;
  const earlier = Array.from({ length: n - 1 }, (_, j) => j + 1);
  const lines: string[] = [`${i}$now = ${now};`, iterationCode(k, i)];
  const dropAccounting = [
    `${i}if ($nx != 0 && $nx != $smp) { printf("D %llu %llu ${streamFmt}\\n", $nx, $smp, $s); }`,
  ];
  if (n === 1) {
    lines.push(...dropAccounting);
    lines.push(`${i}@in = count();`);
    lines.push(emitRow(n, i));
    return lines.join("\n");
  }
  const fmt = earlier.map(() => "%llu").join(" ");
  const args = earlier.map((j) => `$a${j}`).join(", ");
  if (k === 1) {
    lines.push(`${i}if (@p1${key} != 0) { printf("U 1 %llu ${streamFmt}\\n", $smp, $s); return; }`);
    lines.push(
      `${i}// still pending from ${STALE_PERIODS} smpCnt periods ago: it never reached the last point`,
    );
    // (for $it <= STALE_PERIODS the key wraps to a huge iteration that never exists: reads 0)
    for (const j of earlier) lines.push(`${i}$a${j} = @p${j}${staleKey};`);
    lines.push(`${i}if (${earlier.map((j) => `$a${j}`).join(" + ")} != 0) {`);
    lines.push(
      `${i}  printf("I %llu %llu %llu 0 ${fmt} 0 ${streamFmt}\\n", $smp, $it - ${STALE_PERIODS}, $appid, ${args}, $s);`,
    );
    for (const j of earlier)
      lines.push(
        `${i}  if ($a${j} != 0) { delete(@p${j}${staleKey});${j === 1 ? " @pend = sum(-1);" : ""} }`,
      );
    lines.push(`${i}}`);
    lines.push(...dropAccounting);
    lines.push(`${i}@p1${key} = $now;`);
    lines.push(`${i}@pend = sum(1);`);
    lines.push(`${i}@in = count();`);
    return lines.join("\n");
  }
  if (k < n) {
    lines.push(`${i}if (@p${k}${key} != 0) { printf("U ${k} %llu ${streamFmt}\\n", $smp, $s); return; }`);
    lines.push(`${i}@p${k}${key} = $now;`);
    return lines.join("\n");
  }
  for (const j of earlier) {
    lines.push(`${i}$a${j} = @p${j}${key};`);
    lines.push(`${i}if ($a${j} != 0) { delete(@p${j}${key});${j === 1 ? " @pend = sum(-1);" : ""} }`);
  }
  lines.push(emitRow(n, i));
  return lines.join("\n");
}

/** Packed time words of a row: earlier points j = 1..n-1 two per word, (tn - tj + 1) in 32 bits, 0 = not seen. */
export function packedWords(n: number): number {
  return Math.ceil((n - 1) / 2);
}

/**
 * The last point's output of one SV: a packed row queued in this CPU's ring (@b[cpu, i % RING_ROWS], head
 * @bh[cpu]), printed by the drain probe (drainProbe). A printf at the last point would be one perf event per
 * SV, and each wakes bpftrace through an inter-processor interrupt (irq_work), a VM exit on a virtual machine:
 * ~17 µs of the reader's time per SV on the project's VM. Rows are packed: "R <A> <refrTm> <tn> <P>.. <stream>",
 * A = smpCnt | appid << 16 | iteration << 32, each P two 32-bit deltas (tn - tj + 1, 0 = not seen). An SV whose
 * deltas do not fit (a point later than the last one, or more than 4.29 s before it) is printed at once in full:
 * "F" with the R fields of the unpacked layout.
 */
function emitRow(n: number, indent: string): string {
  const i = indent;
  const earlier = Array.from({ length: n - 1 }, (_, j) => j + 1);
  const words = packedWords(n);
  const lines: string[] = [];
  lines.push(`${i}$A = $smp | ($appid << 16) | ($it << 32);`);
  if (n > 1) {
    lines.push(
      `${i}if (${earlier.map((j) => `$a${j} > $now || $now - $a${j} >= 0xfffffffe`).join(" || ")}) {`,
      `${i}  printf("F %llu %llu %llu %llu ${earlier.map(() => "%llu ").join("")}%llu %llu\\n", $smp, $it, $appid, $rt, ${earlier.map((j) => `$a${j}, `).join("")}$now, $s);`,
      `${i}  return;`,
      `${i}}`,
    );
    for (const j of earlier) lines.push(`${i}$d${j} = $a${j} == 0 ? (uint64)0 : $now - $a${j} + 1;`);
    for (let w = 0; w < words; w++) {
      const lo = 2 * w + 1;
      const hi = lo + 1;
      lines.push(`${i}$P${w} = ${hi <= n - 1 ? `$d${lo} | ($d${hi} << 32)` : `$d${lo}`};`);
    }
  }
  const fields = ["$A", "$rt", "$now", ...Array.from({ length: words }, (_, w) => `$P${w}`), "$s"];
  lines.push(
    `${i}$c = (uint64)cpu;`,
    `${i}$bi = @bh[$c];`,
    `${i}@b[$c, $bi % ${RING_ROWS}] = (${fields.map((f) => `(uint64)${f}`).join(", ")});`,
    `${i}@bh[$c] = $bi + 1;`,
  );
  return lines.join("\n");
}

/**
 * The drain probes: every DRAIN_MS, print the rows queued in the rings of CPUs [from, to), rowsPerEvent rows per
 * printf, then the rest one by one; a ring the drain fell more than RING_ROWS behind on is reported by an O line
 * (those rows are lost). A timer probe runs in hard interrupt context, where the interrupt that wakes bpftrace
 * cannot be taken until the probe returns: all printfs of one drain run cost one IPI.
 */
function drainProbes(n: number, cpus: number): string[] {
  const words = packedWords(n);
  const nf = 4 + words;
  const K = rowsPerEvent(n);
  const rowFmt = `R ${Array.from({ length: nf }, () => "%llu").join(" ")}\\n`;
  const slot = (r: number) => `@b[$c, ${r === 0 ? "$t" : `($t + ${r})`} % ${RING_ROWS}]`;
  const rowArgs = (r: number) => Array.from({ length: nf }, (_, f) => `${slot(r)}.${f}`);
  const probes: string[] = [];
  for (let from = 0; from < cpus; from += CPUS_PER_DRAIN_PROBE) {
    const to = Math.min(cpus, from + CPUS_PER_DRAIN_PROBE);
    probes.push(
      [
        `// drain the complete rows queued on CPUs ${from}..${to - 1} (see emitRow)`,
        `interval:ms:${DRAIN_MS}`,
        "{",
        `  $c = (uint64)${from};`,
        `  while ($c < ${to}) {`,
        "    $t = @bt[$c];",
        "    $hd = @bh[$c];",
        `    if ($hd > $t + ${RING_ROWS}) { printf("O %llu %llu\\n", $c, $hd - $t - ${RING_ROWS}); $t = $hd - ${RING_ROWS}; }`,
        "    $j = (uint64)0;",
        `    while ($t + ${K} <= $hd && $j < ${DRAIN_BATCHES}) {`,
        `      printf("${rowFmt.repeat(K)}", ${Array.from({ length: K }, (_, r) => rowArgs(r).join(", ")).join(", ")});`,
        `      $t = $t + ${K};`,
        "      $j = $j + 1;",
        "    }",
        "    $j = (uint64)0;",
        `    while ($t < $hd && $j < ${K}) {`,
        `      printf("${rowFmt}", ${rowArgs(0).join(", ")});`,
        "      $t = $t + 1;",
        "      $j = $j + 1;",
        "    }",
        "    @bt[$c] = $t;",
        "    $c = $c + 1;",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
  }
  return probes;
}

/** One probe block for every point sharing an attach point. */
function probeBlock(
  attach: AttachName,
  members: { point: ProbePoint; k: number }[],
  n: number,
  streams: string[] | undefined,
  now: string,
): string {
  const a = ATTACH_POINTS[attach];
  // the stream is a number in both modes: the list index, or the id an S line announced
  const streamFmt = "%llu";
  const lines: string[] = [];
  lines.push(`// ${members.map((m) => `${m.point.label} [${describePoint(m.point)}]`).join("; ")}`);
  lines.push(attach);
  lines.push("{");
  lines.push(`  $skb = (struct sk_buff *)${a.skbExpr};`);
  lines.push("  $proto = (uint64)$skb->protocol;");
  lines.push("  // 0x88BA or 0x8100 in network order read on a little-endian CPU");
  lines.push("  if ($proto != 0xba88 && $proto != 0x0081) { return; }");
  if (members.some((m) => m.point.filter.dev !== undefined)) {
    lines.push(a.hasDevName ? "  $dn = str(args->name);" : "  $sd = $skb->dev->name;");
  }
  lines.push("  $pt = (uint64)0;");
  members.forEach((m, idx) => {
    lines.push(`  ${idx === 0 ? "" : "else "}if (${filterCondition(m.point)}) { $pt = ${m.k}; }`);
  });
  lines.push("  if ($pt == 0) { return; }");
  lines.push(extractKey(streams, "  "));
  members.forEach((m, idx) => {
    lines.push(`  ${idx === 0 ? "" : "else "}if ($pt == ${m.k}) {`);
    lines.push(`    // ${m.point.name}: point ${m.k} of ${n}`);
    lines.push(pointAction(m.k, n, streamFmt, now, "    "));
    lines.push("  }");
  });
  lines.push("}");
  return lines.join("\n");
}

/** Generate the program for these points and streams. */
export function generateProgram(opts: GenerateOptions): GeneratedProgram {
  const points = opts.points;
  if (points.length === 0) fail("no trace points to generate a program for");
  if (points.length > MAX_POINTS)
    fail(`at most ${MAX_POINTS} trace points (bpftrace printf limit), got ${points.length}`);
  points.forEach(checkFilterStrings);
  const streams = opts.streams && opts.streams.length > 0 ? [...opts.streams] : undefined;
  if (streams) {
    streams.forEach(checkSvid);
    if (new Set(streams).size !== streams.length) fail("a svID is listed twice in the stream list");
  }
  const tai = opts.clock === "tai" && opts.features.nsecsTai;
  const now = tai ? "nsecs(tai)" : "nsecs";
  const n = points.length;

  const groups = new Map<AttachName, { point: ProbePoint; k: number }[]>();
  points.forEach((p, idx) => {
    const g = groups.get(p.attach) ?? [];
    g.push({ point: p, k: idx + 1 });
    groups.set(p.attach, g);
  });

  const header = [
    "/*",
    ` * svtrace: latency of IEC 61850-9-2 Sampled Values (EtherType 0x88BA) between ${n} kernel point${n > 1 ? "s" : ""},`,
    " * one line per SV, matched in the kernel by (stream, smpCnt).",
    ...points.map((p, i) => ` *   point ${i + 1}: ${p.label}  <- ${describePoint(p)}`),
    ` * Streams: ${streams ? streams.map((s, i) => `${i + 1}=${s}`).join(" ") : "all (keyed by the svID string)"}`,
    ` * Profile: ${opts.profile ?? "-"}; clock: ${tai ? "nsecs(tai)" : "nsecs (CLOCK_MONOTONIC, converted by svtrace)"}; bpftrace ${opts.features.version}.`,
    " * Lines: READY, R (SV at the last point), I (incomplete), D (smpCnt gap), U (duplicate), @in (entered).",
    " * Generated by svtrace (src/bpftrace/generate.ts); run it with svtrace, which sets the map sizes.",
    " */",
  ];
  const mapNames = [
    ...Array.from({ length: Math.max(0, n - 1) }, (_, j) => `@p${j + 1}`),
    "@w",
    "@in",
    ...(n > 1 ? ["@pend"] : []),
    "@b",
    "@bh",
    "@bt",
    ...(streams ? [] : ["@sid", "@sn"]),
  ];
  const text = [
    ...header,
    "",
    "// bpftrace runs with -B full (one write(2) per 4 KiB, not per line); a blank line longer than the 4 KiB",
    "// stdio buffer of a pipe pushes out everything printed before it: after READY, and every second",
    `BEGIN { printf("READY %llu\\n${FLUSH_PAD}\\n", ${now});${opts.exitInBegin ? " exit();" : ""} }`,
    "",
    ...[...groups.entries()].map(([attach, members]) => `${probeBlock(attach, members, n, streams, now)}\n`),
    ...drainProbes(n, opts.cpus ?? possibleCpus()),
    `interval:s:1 { print(@in);${n > 1 ? " print(@pend);" : ""} printf("${FLUSH_PAD}\\n"); }`,
    "",
    "END",
    "{",
    '  printf("END\\n");',
    ...Array.from({ length: Math.max(0, n - 1) }, (_, j) => `  print(@p${j + 1});`),
    "  print(@in);",
    ...(n > 1 ? ["  print(@pend);"] : []),
    `  // rows still queued: @b[cpu, i % ${RING_ROWS}] for @bt[cpu] <= i < @bh[cpu]`,
    "  print(@bh);",
    "  print(@bt);",
    "  print(@b);",
    ...mapNames.map((m) => `  clear(${m});`),
    "}",
    "",
  ].join("\n");
  return { text, streams, timeSource: tai ? "tai" : "monotonic", points };
}

export interface Sizing {
  mapKeys: number;
  perfPages: number;
  env: Record<string, string>;
}

function nextPow2(v: number): number {
  let p = 1;
  while (p < v) p *= 2;
  return p;
}

/**
 * Map and ring-buffer sizes from the expected total SV rate: the pending maps hold at most STALE_PERIODS smpCnt
 * periods (seconds) of SVs that never reach the last point, plus those in flight, so (STALE_PERIODS + 1) x rate keys. The perf
 * buffer holds about four seconds of output lines per CPU (up to 4096 pages = 16 MiB per CPU): 1024 pages at
 * 32 k SV/s was loss-free on an idle machine (KERNEL-TRACING.md §5), but with the lab's real-time forwarder and
 * subscriber on two cores bpftrace is starved for seconds at a time and lost events. Matching is in the kernel,
 * so lines that arrive late only arrive late. Both map-size variable names are set. Never fewer keys than the
 * row rings need (RING_ROWS per possible CPU), even when a smaller size is asked for.
 */
export function sizeFor(expectedRate: number | undefined, mapKeys?: number, cpus = possibleCpus()): Sizing {
  const rate = expectedRate && expectedRate > 0 ? expectedRate : 8 * 4800;
  const wanted =
    mapKeys && mapKeys > 0
      ? Math.ceil(mapKeys)
      : Math.max(4096, Math.ceil(((STALE_PERIODS + 1) * rate) / 4096) * 4096);
  // every map gets this many keys: the row rings need RING_ROWS per CPU
  const keys = Math.max(wanted, cpus * RING_ROWS);
  const pages = Math.min(4096, Math.max(64, nextPow2(Math.ceil(rate / 8))));
  return {
    mapKeys: keys,
    perfPages: pages,
    env: {
      BPFTRACE_MAP_KEYS_MAX: String(keys),
      BPFTRACE_MAX_MAP_KEYS: String(keys),
      BPFTRACE_PERF_RB_PAGES: String(pages),
      BPFTRACE_STRLEN: "64",
    },
  };
}
