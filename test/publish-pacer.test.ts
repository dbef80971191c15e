/**
 * The publisher's pacer: its clock is CLOCK_MONOTONIC (the clock the kernel stamps and hrtime reads), it never
 * returns before a deadline, and spinning to a deadline allocates nothing on the JavaScript heap (a spin that
 * made a heap number per clock read ran a 0.2-0.3 ms scavenge every 16 ms in the sender thread: late frames).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { getHeapSpaceStatistics } from "node:v8";
import { Pacer } from "../src/publish/pacer.js";

const newSpaceUsed = () =>
  getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_used_size ?? 0;

test("Pacer.now() reads CLOCK_MONOTONIC: it lies between two process.hrtime readings", () => {
  const pacer = new Pacer();
  for (let i = 0; i < 100; i++) {
    const before = Number(process.hrtime.bigint());
    const now = pacer.now();
    const after = Number(process.hrtime.bigint());
    assert.ok(now >= before - 1 && now <= after + 1, `pacer ${now} outside hrtime [${before}, ${after}]`);
  }
});

test("waitUntil never returns before its deadline, whether it sleeps first or only spins", () => {
  const pacer = new Pacer(20_000, 200_000);
  let prev = pacer.now();
  for (let i = 0; i < 400; i++) {
    // alternate deadlines beyond the spin margin (sleep + spin) and within it (spin only)
    const deadline = pacer.now() + (i % 2 === 0 ? 150_000 : 5_000);
    const at = pacer.waitUntil(deadline);
    assert.ok(at >= deadline, `returned ${deadline - at} ns before its deadline`);
    assert.ok(at >= prev, "time went backwards");
    prev = at;
  }
  // a deadline already past returns at once with the current time
  const past = pacer.now() - 1_000_000;
  assert.ok(pacer.waitUntil(past) > past);
});

test("spinning to a deadline allocates nothing on the JavaScript heap", () => {
  // spin only (margin larger than the wait): every wait is ~1 ms of clock reads, about 7000 of them
  const pacer = new Pacer(2_000_000, 2_000_000);
  for (let i = 0; i < 50; i++) pacer.waitUntil(pacer.now() + 100_000); // optimise first
  const samples: number[] = [];
  for (let i = 0; i < 40; i++) {
    const before = newSpaceUsed();
    pacer.waitUntil(pacer.now() + 1_000_000);
    const grew = newSpaceUsed() - before;
    if (grew >= 0) samples.push(grew); // a negative step is a scavenge in between: no reading
  }
  assert.ok(samples.length >= 20, `too few readings without a scavenge: ${samples.length}`);
  samples.sort((a, b) => a - b);
  const median = samples[samples.length >> 1];
  // getHeapSpaceStatistics() itself allocates ~2 KB per call; a clock read that allocated would add ~120 KB per ms
  assert.ok(
    median < 16_384,
    `a 1 ms spin grew the young generation by ${median} bytes (median of ${samples.length})`,
  );
});
