/**
 * The one bpftrace program generator: (points, streams, features) -> program text and environment.
 *
 * Every probe block is produced by the same template functions (bpftrace 0.17 has no macros), one block per
 * attach point with the points that share it told apart by their filters. At each point the SV key is extracted
 * from the frame: VLAN tag at +12 or already in skb->vlan_all, BER lengths short/long/non-minimal, optional
 * security field, svID compared exactly (length and bytes), smpCnt and refrTm found by walking the ASDU TLVs.
 * Matching happens in the kernel keyed by (stream, smpCnt, iteration), each point counting the smpCnt wraps
 * it sees (so a reader lagging by more than one period still pairs correctly). The SVs between the first point
 * and the last wait in one map with a slot per (stream, smpCnt, iteration % STALE_PERIODS) holding the
 * iteration and every earlier point's time (see blockAction); the last point deletes the slot and queues one
 * packed row per SV in a per-CPU ring that a timer probe drains (see emitRow and drainProbes for why). A point
 * that finds its slot taken by another iteration prints that SV as incomplete and takes the slot over, so no
 * entry outlives STALE_PERIODS smpCnt periods.
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
 *   @pend: <n>                                        SVs now waiting in the map (every second)
 *   END, then @p[<stream>, <smpCnt>, <slot>]: (<it>, <t1>, .. <tn-1>)  SVs still waiting at exit,
 *   @bh[<cpu>]: <head>, @bt[<cpu>]: <tail>, @b[<cpu>, <slot>]: (<R fields>)  rows still queued at exit:
 *                                                     indexes tail..head-1, slot = index % RING_ROWS
 * <it> is the iteration (2 = the first smpCnt period the first point saw, 1 = the one before).
 * <stream> is a number: a 1-based index into the svID list when streams are given, else the number an S line
 * gave the svID. <refrTm> is (seconds << 24 | fraction), 0 when the ASDU has none. Times are
 * nanoseconds on CLOCK_MONOTONIC (`nsecs`), or CLOCK_TAI with `nsecs(tai)` when bpftrace has it.
 */
import { readFileSync } from "node:fs";
import { fail } from "../errors.js";
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
 * Rows per printf of the drain probe: as many as fit 384 bytes of the BPF stack (bpftrace's limit is 512) with
 * each row copied once into a tuple variable and again into the printf arguments (checked by compiling every
 * point count in test/bpftrace-generate.test.ts): 4 rows at 4 points. Reading each field straight from the map
 * (`@b[k].0, @b[k].1, ..`) fitted 8 rows but cost a map lookup per field: 48 lookups per printf, ~70 µs of
 * timer interrupt every 2 ms at 38 400 SV/s.
 */
export function rowsPerEvent(pointCount: number): number {
  const fields = 4 + packedWords(pointCount);
  // 8 fields (7-8 points): 3 rows (384 bytes) overflowed with the map keys and printf header on top
  const budget = fields >= 8 ? 320 : 384;
  return Math.min(8, Math.max(1, Math.floor(budget / (16 * fields))));
}

/** Ring slots per CPU for complete rows waiting for the drain probe (8192: 200 ms at 38 400 SV/s on one CPU). */
export const RING_ROWS = 8192;
/** The drain probe's period. */
export const DRAIN_MS = 2;
/** Rows a drain run prints per CPU at most, in printfs of rowsPerEvent rows (64 000 rows/s per CPU). */
const DRAIN_ROWS = 128;
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
  /** record --context: a C line per SV and point with the CPU and thread that ran it */
  context?: boolean;
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

/** An optional field: when the TLV at $q has this tag, step over it and read the next header. */
function skipTlvIf(tag: string, indent: string): string[] {
  return [
    `${indent}if ($tg == ${tag}) {`,
    `${indent}  $q = $q + $h + $L;`,
    tlvHeader(`${indent}  `),
    `${indent}}`,
  ];
}

/**
 * The SV key extraction shared by every probe: sets $appid, $sv, $na, $smp and $fa (or returns), and $s when
 * streams are given; shared with ./generate-path.ts (in all-streams mode the point action looks the stream number up with its word: wordStore).
 */
export function extractKey(streams: string[] | undefined, indent: string): string {
  const i = indent;
  const lines = [
    `${i}// frame: MAC header, 802.1Q tag in the frame (before untagging) or already in skb->vlan_all`,
    `${i}$mh = (uint64)$skb->mac_header;`,
    `${i}if ($mh == 0xffff) { return; }`,
    `${i}$p = $skb->head + $mh;`,
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
    ...skipTlvIf("0x81", `${i}  `),
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
    `${i}// the ASDU after svID, in tag order: [datSet 81], smpCnt 82, confRev 83, [refrTm 84]. Fast path ($fa): no`,
    `${i}// datSet, short forms: 82 02 hi lo 83 04 c c | c c 84 08, refrTm after; else the TLV walk`,
    `${i}$x = *(uint64 *)($p + $q);`,
    `${i}$fa = ($x & 0xffff) == 0x0282 && (($x >> 32) & 0xffff) == 0x0483;`,
    `${i}if ($fa) {`,
    `${i}  $smp = ((($x >> 16) & 0xff) << 8) | (($x >> 24) & 0xff);`,
    `${i}} else {`,
    tlvHeader(`${i}  `),
    ...skipTlvIf("0x81", `${i}  `),
    `${i}  if ($tg != 0x82 || $L != 2) { return; }`,
    `${i}  // short form: the value is in the header read already`,
    `${i}  $v = $h == 2 ? $w >> 16 : (uint64)*(uint16 *)($p + $q + $h);`,
    `${i}  $smp = (($v & 0xff) << 8) | (($v >> 8) & 0xff);`,
    `${i}  $q = $q + $h + $L;`,
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
  }
  return lines.join("\n");
}

/**
 * refrTm ($rt, 0 when the ASDU has none), read after extractKey: only the last point prints it, so only its block
 * reads it (two probe reads fewer per SV at every other point). On the fast path $q is at smpCnt, else after it.
 */
function refrTmCode(indent: string): string {
  const i = indent;
  return [
    `${i}$rt = (uint64)0;`,
    `${i}if ($fa) {`,
    `${i}  $y = *(uint64 *)($p + $q + 8);`,
    `${i}  if ((($y >> 16) & 0xffff) == 0x0884) { $rt = (uint64)bswap(*(uint64 *)($p + $q + 12)) >> 8; }`,
    `${i}} else {`,
    tlvHeader(`${i}  `),
    ...skipTlvIf("0x83", `${i}  `),
    `${i}  if ($tg == 0x84 && $L == 8) { $rt = (uint64)bswap(*(uint64 *)($p + $q + $h)) >> 8; }`,
    `${i}}`,
  ].join("\n");
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
 * Where a point keeps its iteration word, and the stream number in all-streams mode. With a stream list: $s comes
 * from the extraction, the word is @w[$s, point]. Without: @sid[$sv, point] = ($s, word) holds both, so one
 * lookup keyed by the exact svID gives the stream number and the word; @sid[$sv, 0] = ($s, 0) is the number
 * itself, given out the first time any point sees the svID ((per-CPU counter << 16) | cpu: two CPUs never give
 * out the same) and announced once by an S line. The point is $pt: one copy of the code serves every point of
 * an attach block (bpftrace 0.17 gives every map key and tuple its own stack slot: per-point copies of these
 * overflowed the 512-byte BPF stack with 7 points).
 */
interface WordStore {
  /** sets $s (all-streams mode) and $wv (0 when this point has not seen the stream yet) */
  read(i: string): string[];
  /** an expression for the first point's word (a later point seeing the stream for the first time) */
  firstWord: string;
  write(value: string): string;
}

function wordStore(allStreams: boolean): WordStore {
  if (!allStreams)
    return {
      read: (i) => [`${i}$wv = @w[$s, $pt];`],
      firstWord: "@w[$s, 1]",
      write: (v) => `@w[$s, $pt] = ${v};`,
    };
  return {
    read: (i) => [
      `${i}$sw = @sid[$sv, $pt];`,
      `${i}$s = $sw.0;`,
      `${i}$wv = $sw.1;`,
      `${i}if ($s == 0) {`,
      `${i}  $s = @sid[$sv, 0].0;`,
      `${i}  if ($s == 0) {`,
      `${i}    $c = (uint64)cpu;`,
      `${i}    $sn = @sn[$c] + 1;`,
      `${i}    @sn[$c] = $sn;`,
      `${i}    $s = ($sn << 16) | $c;`,
      `${i}    @sid[$sv, 0] = ($s, (uint64)0);`,
      `${i}    printf("S %llu %s\\n", $s, $sv);`,
      `${i}  }`,
      `${i}}`,
    ],
    firstWord: "@sid[$sv, 1].1",
    write: (v) => `@sid[$sv, $pt] = ($s, ${v});`,
  };
}

/** How far (samples) a later point's iteration word may lag its last smpCnt: far below any smpCnt modulus. */
const ITERATION_WORD_STEP = 16;

/**
 * Per-point iteration (smpCnt wraps seen at this point), kept in the point's word as (iteration << 32 | last + 1):
 * at the first point last + noASDU (the next expected smpCnt, for the gap check; written for every SV), at later
 * points a value up to ITERATION_WORD_STEP behind (written back only on a wrap or a step that large: a map update
 * saved per SV). Iterations start at 2 at the first point (so an SV from the period before it, still queued for a
 * later point, can be 1); a later point seeing a stream for the first time takes the first point's iteration,
 * minus one when the SV is from before the first point's last wrap. A backward jump to below half of the last
 * counter is a wrap; a small one is a late or repeated SV of the same period. `ks`: the block's points.
 */
function iterationCode(ks: number[], words: WordStore, i: string): string {
  const hasFirst = ks.includes(1);
  const hasLater = ks.some((k) => k > 1);
  // a frame carries noASDU consecutive samples: the first point expects smpCnt + noASDU next
  const next = hasFirst && hasLater ? "$smp + ($pt == 1 ? $na : 1)" : hasFirst ? "$smp + $na" : "$smp + 1";
  const later = [
    `$w1 = ${words.firstWord};`,
    "$l1 = $w1 & 0xffffffff;",
    "$it = $w1 >> 32;",
    "if ($it > 1 && $smp + 1 > $l1 + ($l1 / 2) + 64) { $it = $it - 1; }",
    "if ($it == 0) { $it = 1; }",
  ];
  const firstSight =
    hasFirst && hasLater
      ? [`${i}  if ($pt == 1) { $it = 2; }`, `${i}  else {`, ...later.map((l) => `${i}    ${l}`), `${i}  }`]
      : hasFirst
        ? [`${i}  $it = 2;`]
        : later.map((l) => `${i}  ${l}`);
  const step = hasFirst
    ? hasLater
      ? `$pt == 1 || $smp + 1 >= $lp + ${ITERATION_WORD_STEP}`
      : "1"
    : `$smp + 1 >= $lp + ${ITERATION_WORD_STEP}`;
  return [
    ...words.read(i),
    `${i}$lp = $wv & 0xffffffff;`,
    ...(hasFirst ? [`${i}$nx = $lp;`] : []),
    `${i}$it = $wv >> 32;`,
    `${i}$up = (uint64)0;`,
    `${i}if ($lp == 0) {`,
    ...firstSight,
    `${i}  $lp = ${next};`,
    `${i}  $up = 1;`,
    `${i}} else {`,
    `${i}  if ($smp + 1 < $lp) {`,
    `${i}    if ($smp + 1 < $lp / 2) { $it = $it + 1; $lp = ${next}; $up = 1; }`,
    `${i}  } else {`,
    step === "1" ? `${i}    $lp = ${next}; $up = 1;` : `${i}    if (${step}) { $lp = ${next}; $up = 1; }`,
    `${i}  }`,
    `${i}}`,
    `${i}if ($up) { ${words.write("($it << 32) | $lp")} }`,
  ].join("\n");
}

/** The pending-map key of an SV: one slot per iteration modulo STALE_PERIODS. */
const SLOT_KEY = `[$s, $smp, $it % ${STALE_PERIODS}]`;

/** `$pt == k1 ? e(k1) : ($pt == k2 ? e(k2) : .. e(kLast))` over the block's points `ks` */
function byPoint(ks: number[], e: (k: number) => string): string {
  if (ks.length === 1) return e(ks[0]);
  return `$pt == ${ks[0]} ? ${e(ks[0])} : (${byPoint(ks.slice(1), e)})`;
}

/**
 * What the points `ks` of one attach block (1-based, of n) do with an SV, once its key is extracted.
 *
 * SVs between the first point and the last wait in one map, @p[stream, smpCnt, iteration % STALE_PERIODS] =
 * (iteration, t1, .., tn-1): a point reads the slot once, which tells it all it needs: the same SV already seen
 * here (a duplicate), or an SV of another iteration still in the slot (one that never reached the last point:
 * printed as incomplete, then overwritten), and writes its time back; the last point reads and deletes it. So
 * the map never holds more than STALE_PERIODS periods of each stream, and on the path an SV costs the first
 * point three map operations after its stream lookup (its word, the slot read and write), a middle point two:
 * measured on the project's VM, the per-point maps and the separate duplicate and stale-entry lookups they
 * needed cost about 1 µs more per SV on the path.
 */
function blockAction(ks: number[], n: number, words: WordStore, i: string, context = false): string {
  const lines: string[] = [iterationCode(ks, words, i)];
  // record --context: "C <stream> <smpCnt> <iteration> <point> <cpu> <tid> <comm>", printed at once (a perf
  // event per SV and point: the cost of context on this backend)
  if (context)
    lines.push(`${i}printf("C %llu %llu %llu %llu %llu %llu %s\\n", $s, $smp, $it, $pt, cpu, tid, comm);`);
  // smpCnt gaps are counted at the first point
  const gapCheck = (cond: string) =>
    `if (${cond}$nx != 0 && $nx != $smp) { printf("D %llu %llu %llu\\n", $nx, $smp, $s); }`;
  if (n === 1) {
    lines.push(`${i}${gapCheck("")}`, emitRow(n, i));
    return lines.join("\n");
  }
  const earlier = Array.from({ length: n - 1 }, (_, j) => j + 1);
  const waiting = ks.filter((k) => k < n);
  lines.push(`${i}$pv = @p${SLOT_KEY};`);
  const last: string[] = [];
  if (ks.includes(n)) {
    last.push(
      ...earlier.map((j) => `$a${j} = (uint64)0;`),
      "if ($pv.0 == $it) {",
      ...earlier.map((j) => `  $a${j} = $pv.${j};`),
      `  delete(@p${SLOT_KEY});`,
      "  @pend = sum(-1);",
      "}",
    );
  }
  const wait: string[] = [];
  if (waiting.length > 0) {
    const mine = byPoint(waiting, (k) => `$pv.${k}`);
    const fields = earlier.map((j) => {
      const kept = `($pv.0 == $it ? $pv.${j} : (uint64)0)`;
      if (!waiting.includes(j)) return kept;
      return waiting.length === 1 ? "$now" : `($pt == ${j} ? $now : ${kept})`;
    });
    wait.push(
      `if ($pv.0 == $it && (${mine}) != 0) { printf("U %llu %llu %llu\\n", $pt, $smp, $s); return; }`,
      "if ($pv.0 != $it) {",
      "  // the slot holds an SV of another iteration that never reached the last point (or nothing)",
      `  if ($pv.0 != 0) { printf("I %llu %llu %llu 0 ${earlier.map(() => "%llu ").join("")}0 %llu\\n", $smp, $pv.0, $appid, ${earlier.map((j) => `$pv.${j}, `).join("")}$s); }`,
      "  else { @pend = sum(1); }",
      "}",
      ...(ks.includes(1) ? [gapCheck(waiting.length === 1 ? "" : "$pt == 1 && ")] : []),
      `@p${SLOT_KEY} = ($it, ${fields.join(", ")});`,
    );
  }
  if (last.length > 0 && wait.length > 0) {
    lines.push(`${i}if ($pt == ${n}) {`, ...last.map((l) => `${i}  ${l}`));
    lines.push(emitRow(n, `${i}  `));
    lines.push(`${i}} else {`, ...wait.map((l) => `${i}  ${l}`), `${i}}`);
  } else if (last.length > 0) {
    lines.push(...last.map((l) => `${i}${l}`), emitRow(n, i));
  } else lines.push(...wait.map((l) => `${i}${l}`));
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
      `${i}if (${earlier.map((j) => `($a${j} != 0 && ($a${j} > $now || $now - $a${j} >= 0xfffffffe))`).join(" || ")}) {`,
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
  // one map lookup per row: the row is copied into $r<k>, the printf reads the fields from there
  const readRows = (k: number, indent: string) =>
    Array.from({ length: k }, (_, r) => `${indent}$r${r} = ${slot(r)};`);
  const rowArgs = (r: number) => Array.from({ length: nf }, (_, f) => `$r${r}.${f}`);
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
        `    while ($t + ${K} <= $hd && $j < ${Math.ceil(DRAIN_ROWS / K)}) {`,
        ...readRows(K, "      "),
        `      printf("${rowFmt.repeat(K)}", ${Array.from({ length: K }, (_, r) => rowArgs(r).join(", ")).join(", ")});`,
        `      $t = $t + ${K};`,
        "      $j = $j + 1;",
        "    }",
        "    $j = (uint64)0;",
        `    while ($t < $hd && $j < ${K}) {`,
        ...readRows(1, "      "),
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
  context = false,
): string {
  const a = ATTACH_POINTS[attach];
  const words = wordStore(!streams);
  const lines: string[] = [];
  lines.push(`// ${members.map((m) => `${m.point.label} [${describePoint(m.point)}]`).join("; ")}`);
  lines.push(attach);
  lines.push("{");
  // the time first: the point's timestamp is the tracepoint hit, not the end of the filtering and key
  // extraction below (0.2-0.5 µs later; svtrace selfcheck measures it against ftrace on the same tracepoint)
  lines.push(`  $now = ${now};`);
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
  const ks = members.map((m) => m.k);
  if (ks.includes(n)) {
    if (ks.length === 1) lines.push(refrTmCode("  "));
    else lines.push(`  $rt = (uint64)0;\n  if ($pt == ${n}) {\n${refrTmCode("    ")}\n  }`);
  }
  lines.push(`  // ${members.map((m) => `${m.point.name}: point ${m.k} of ${n}`).join("; ")}`);
  lines.push(
    blockAction(
      members.map((m) => m.k),
      n,
      words,
      "  ",
      context,
    ),
  );
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
    " * Lines: READY, S (stream number), R (SV at the last point), F (unpacked R), I (incomplete), D (smpCnt gap),",
    ` * U (duplicate), O (ring overrun), @pend (SVs pending)${opts.context ? ", C (context: CPU and thread at a point)" : ""}.`,
    " * Generated by svtrace (src/bpftrace/generate.ts); run it with svtrace, which sets the map sizes.",
    " */",
  ];
  const mapNames = [
    ...(n > 1 ? ["@p", "@pend"] : []),
    ...(streams ? ["@w"] : ["@sid", "@sn"]),
    "@b",
    "@bh",
    "@bt",
  ];
  // BEGIN gives @p its value type once ((iteration, t1, .., tn-1), all uint64): bpftrace 0.17 infers a tuple
  // built from fields of a tuple variable as untyped otherwise
  const pinSlot =
    n > 1
      ? ` @p[0, 0, 0] = (${Array.from({ length: n }, () => "(uint64)0").join(", ")}); delete(@p[0, 0, 0]);`
      : "";
  const text = [
    ...header,
    "",
    "// bpftrace runs with -B full (one write(2) per 4 KiB, not per line); a blank line longer than the 4 KiB",
    "// stdio buffer of a pipe pushes out everything printed before it: after READY, and every second",
    `BEGIN {${pinSlot} printf("READY %llu\\n${FLUSH_PAD}\\n", ${now});${opts.exitInBegin ? " exit();" : ""} }`,
    "",
    ...[...groups.entries()].map(
      ([attach, members]) => `${probeBlock(attach, members, n, streams, now, opts.context)}\n`,
    ),
    ...drainProbes(n, opts.cpus ?? possibleCpus()),
    `interval:s:1 {${n > 1 ? " print(@pend);" : ""} printf("${FLUSH_PAD}\\n"); }`,
    "",
    "END",
    "{",
    '  printf("END\\n");',
    ...(n > 1
      ? [
          "  // SVs that never reached the last point: @p[stream, smpCnt, slot]: (iteration, t1, .., tn-1)",
          "  print(@p);",
          "  print(@pend);",
        ]
      : []),
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
 * Map and ring-buffer sizes from the expected total SV rate: the pending map holds at most STALE_PERIODS smpCnt
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
