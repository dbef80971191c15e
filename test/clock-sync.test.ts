/**
 * Clock mapping between a guest and the host from round-trip exchanges (src/record/clock-sync.ts): synthetic
 * exchanges with a known offset, drift, asymmetric delays and a guest wall-clock step, and a join of a host
 * record with a guest record through the mapping (src/record/clock-join.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { joinAcrossClocks } from "../src/record/clock-join.js";
import { ClockMapping, type ClockRound, type ClockSample, estimateRound } from "../src/record/clock-sync.js";
import { emptyColumns, type RecordColumns } from "../src/record/columns.js";
import type { RecordInput } from "../src/record/input.js";
import type { RecordMeta } from "../src/record/schema.js";
import { mulberry32 } from "../src/util/prng.js";

/** Guest monotonic = (host monotonic - OFFSET) * (1 - drift); delays out and back drawn at random. */
function round(
  hostStart: bigint,
  offsetNs: bigint,
  driftPpm: number,
  n: number,
  seed: number,
  realMinusMono = 5_000_000_000n,
): ClockRound {
  const rnd = mulberry32(seed);
  const samples: ClockSample[] = [];
  let t = hostStart;
  for (let i = 0; i < n; i++) {
    // one-way delays 200 µs .. 5 ms, out and back independent (asymmetric)
    const out = BigInt(200_000 + Math.floor(rnd() * 4_800_000));
    const back = BigInt(200_000 + Math.floor(rnd() * 4_800_000));
    const atGuestHost = t + out;
    const guestMono = atGuestHost - offsetNs + BigInt(Math.round(Number(atGuestHost) * (driftPpm / 1e6)));
    samples.push({
      hostSendNs: t,
      hostRecvNs: atGuestHost + back,
      guestMonoNs: guestMono,
      guestRealNs: guestMono + realMinusMono,
    });
    t += out + back + 1_000_000n;
  }
  return { method: "test", samples, hostRealMinusMonoNs: 1_700_000_000_000_000_000n, at: "" };
}

test("the fastest exchange gives the offset, within half its round trip", () => {
  const OFFSET = 123_456_789n;
  const r = round(10_000_000_000n, OFFSET, 0, 50, 1);
  const e = estimateRound(r);
  const err = e.offsetNs - OFFSET;
  assert.ok(err <= e.rttNs / 2n && -err <= e.rttNs / 2n, `error ${err} ns beyond ±${e.rttNs / 2n} ns`);
  // the fastest of 50 is well below the median
  assert.ok(e.rttNs < e.medianRttNs);
  assert.equal(e.samples, 50);
  const rtts = r.samples.map((s) => Number(s.hostRecvNs - s.hostSendNs));
  assert.equal(Number(e.rttNs), Math.min(...rtts));
});

test("two rounds give the drift; a mapped guest time lands within the stated uncertainty", () => {
  const OFFSET = -750_000_000n; // the guest ahead of the host
  const drift = 80; // ppm
  const a = round(10_000_000_000n, OFFSET, drift, 40, 2);
  const b = round(70_000_000_000n, OFFSET, drift, 40, 3);
  const m = new ClockMapping([a, b]);
  assert.ok(m.end);
  // each round's offset is within ±uncertainty: the slope between them within 2 × that over the span
  const bound = (2 * Number(m.uncertaintyNs)) / Number(m.end.guestMonoNs - m.start.guestMonoNs);
  const trueDrift = -drift / 1e6 / (1 + drift / 1e6);
  assert.ok(
    Math.abs(m.drift - trueDrift) <= bound,
    `drift ${m.drift * 1e6} ppm, wanted ${trueDrift * 1e6} ± ${bound * 1e6}`,
  );
  // a guest time in the middle of the run: its true host time from the generator's model
  const host = 40_000_000_000n;
  const guest = host - OFFSET + BigInt(Math.round(Number(host) * (drift / 1e6)));
  const err = m.hostMono(guest) - host;
  assert.ok(err <= m.uncertaintyNs && -err <= m.uncertaintyNs, `error ${err} ns, ±${m.uncertaintyNs} ns`);
  const meta = m.meta(["t1"], ["t3"]);
  assert.equal(meta.uncertaintyNs, Number(m.uncertaintyNs));
  assert.equal(meta.samples.length, 2);
  assert.equal(meta.guestRealtimeStepNs, 0);
});

test("a step of the guest's wall clock between the rounds is measured and does not move the mapping", () => {
  const a = round(10_000_000_000n, 0n, 0, 30, 4, 5_000_000_000n);
  const b = round(40_000_000_000n, 0n, 0, 30, 5, 5_000_000_000n - 95_000_000n);
  const m = new ClockMapping([a, b]);
  assert.equal(m.guestRealtimeStepNs, -95_000_000n);
  const noStep = new ClockMapping([a, round(40_000_000_000n, 0n, 0, 30, 5)]);
  assert.equal(m.hostMono(20_000_000_000n), noStep.hostMono(20_000_000_000n));
});

test("no completed exchange is an error, not an offset", () => {
  assert.throws(
    () => estimateRound({ method: "x", samples: [], hostRealMinusMonoNs: 0n, at: "" }),
    /no clock/,
  );
});

/** An in-memory record input. */
function memInput(
  path: string,
  meta: RecordMeta,
  rows: { sv: string; cnt: number; t: bigint[] }[],
): RecordInput {
  const np = meta.points.length;
  const c: RecordColumns = emptyColumns(rows.length, np, []);
  const names: string[] = [];
  rows.forEach((r, i) => {
    let k = names.indexOf(r.sv);
    if (k < 0) k = names.push(r.sv) - 1;
    c.stream[i] = k;
    c.smpCnt[i] = r.cnt;
    r.t.forEach((v, p) => {
      (c.t[p] as BigInt64Array)[i] = v;
    });
  });
  c.names = names;
  return {
    path,
    kind: "arrow",
    meta,
    hasMeta: true,
    identity: true,
    size: 0,
    bytesRead: 0,
    rows: rows.length,
    warnings: [],
    *batches() {
      yield c;
    },
    close() {},
  };
}

const baseMeta = (profile: string, names: string[], offset: bigint): RecordMeta => ({
  svtraceVersion: "t",
  host: profile,
  kernel: "k",
  bpftrace: "none",
  profile,
  points: names.map((name) => ({ name, label: `${name.toUpperCase()} ${profile}`, probe: "p" })),
  clock: "realtime",
  start: "",
  clockOffsetNs: String(offset),
});

test("join across clocks: the guest's points on the host's clock, t0 of the guest dropped, crossClock in the metadata", () => {
  const OFFSET = 2_000_000_000n; // host monotonic - guest monotonic
  const rounds = [round(10_000_000_000n, OFFSET, 0, 30, 6), round(20_000_000_000n, OFFSET, 0, 30, 7)];
  const m = new ClockMapping(rounds);
  const hostOff = 1_000_000_000_000_000_000n; // host realtime - monotonic
  const guestOff = 999_999_999_000_000_000n; // the guest's wall clock is 1 s behind
  // an SV: T1 at host mono 15.000 s, T2 at +40 µs; the guest sees it 100 µs later (guest mono = host - OFFSET)
  const hostMono = 15_000_000_000n;
  const host = memInput("h", baseMeta("hypervisor", ["t0", "t1", "t2a"], hostOff), [
    { sv: "A", cnt: 7, t: [1n, hostMono + hostOff, hostMono + 40_000n + hostOff] },
  ]);
  const gMono = hostMono + 140_000n - OFFSET;
  const guest = memInput("g", baseMeta("vm", ["t0", "t3", "t4"], guestOff), [
    { sv: "A", cnt: 7, t: [1n, gMono + guestOff, gMono + 30_000n + guestOff] },
  ]);
  const { input, meta } = joinAcrossClocks(host, guest, m);
  assert.deepEqual(
    meta.points.map((p) => p.name),
    ["t0", "t1", "t2a", "t3", "t4"],
  );
  assert.deepEqual(meta.crossClock?.hostPoints, ["t0", "t1", "t2a"]);
  assert.deepEqual(meta.crossClock?.guestPoints, ["t3", "t4"]);
  const [b] = [...input.batches()];
  assert.ok(b);
  const t2 = (b.t[2] as BigInt64Array)[0] as bigint;
  const t3 = (b.t[3] as BigInt64Array)[0] as bigint;
  const t4 = (b.t[4] as BigInt64Array)[0] as bigint;
  const cross = t3 - t2; // true value 100 µs
  assert.ok(cross - 100_000n <= m.uncertaintyNs && 100_000n - cross <= m.uncertaintyNs, `T2a-T3 ${cross} ns`);
  // a guest-side interval only scales by the measured drift (tens of ppm here: a nanosecond at most)
  const d = Number(t4 - t3) - 30_000;
  assert.ok(Math.abs(d) <= 30_000 * Math.abs(m.drift) + 1, `T3-T4 ${t4 - t3} ns`);
});
