/**
 * One round of clock exchanges with the qemu lab's guest over the agent's virtio-serial channel (see
 * ../record/clock-sync.ts for how rounds become an offset with an uncertainty). The channel takes one client at a
 * time, so a round runs before or after a `lab exec`, never during one.
 */
import { fail } from "../errors.js";
import type { ClockRound } from "../record/clock-sync.js";
import { measureClockOffset } from "../trace/clock.js";
import { guestClockExchanges } from "./guest-channel.js";
import { labNames } from "./names.js";
import { isAlive } from "./processes.js";
import { readState } from "./state.js";

export const CLOCK_METHOD = "virtio-serial agent channel (JSON lines, node in the guest)";

/** `n` exchanges with the guest of the lab with this prefix. */
export async function guestClockRound(n = 50, prefix?: string): Promise<ClockRound> {
  const names = labNames(prefix);
  const state = readState(names);
  if (state?.phase !== "up" || state.mode !== "qemu")
    fail(`no qemu lab is up (prefix "${names.prefix}"): run svtrace lab up --switch qemu first`);
  const qemu = state.processes.find((p) => p.role === "qemu");
  if (!qemu || !isAlive(qemu)) fail("the lab's QEMU is not running: run svtrace lab down, then up again");
  const samples = await guestClockExchanges(names.agentSocket, n).catch((e: unknown) =>
    fail(
      `clock exchange with the guest failed: ${(e as Error).message} (is the agent running a current svtrace? lab down and up)`,
    ),
  );
  return {
    method: CLOCK_METHOD,
    samples,
    hostRealMinusMonoNs: measureClockOffset("realtime").offsetNs,
    at: new Date().toISOString(),
  };
}

/** A round as JSON (bigints as strings), and back. */
export function roundToJson(r: ClockRound): string {
  return JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? String(v) : v), 2);
}
export function roundFromJson(text: string, path: string): ClockRound {
  let o: {
    method?: string;
    at?: string;
    hostRealMinusMonoNs?: string;
    samples?: Record<string, string>[];
  };
  try {
    o = JSON.parse(text);
  } catch (e) {
    fail(`${path}: not a clock round (svtrace lab clock --out): ${(e as Error).message}`);
  }
  if (!Array.isArray(o.samples) || o.hostRealMinusMonoNs === undefined)
    fail(`${path}: not a clock round (svtrace lab clock --out writes one)`);
  return {
    method: o.method ?? "unknown",
    at: o.at ?? "",
    hostRealMinusMonoNs: BigInt(o.hostRealMinusMonoNs),
    samples: o.samples.map((s) => ({
      hostSendNs: BigInt(s.hostSendNs as string),
      hostRecvNs: BigInt(s.hostRecvNs as string),
      guestMonoNs: BigInt(s.guestMonoNs as string),
      guestRealNs: BigInt(s.guestRealNs as string),
    })),
  };
}
