/**
 * The stream plan shared by `svtrace pcap generate` and `svtrace publish`: which SV streams to produce (svID,
 * APPID, MACs, VLAN), at which rate (50/60 Hz x 80/256 samples per cycle, ASDUs per frame) and with which
 * 9-2LE content options. Validates every user input with a one-line error (UserError via `fail`).
 */
import { fail } from "../errors.js";
import { MacParseError, parseMac } from "../sv/mac.js";

export const MAX_STREAMS = 64;
export const MAX_SVID_BYTES = 34;

export interface GenOptions {
  streams: number;
  freq: number;
  spc: number;
  asdu: number;
  svidPrefix: string;
  svidDigits: number;
  startId: number;
  /** explicit svIDs; overrides prefix/digits/start-id and sets the stream count */
  svids?: string[];
  appid: number;
  /** APPID of stream k = appid + k * appidStep */
  appidStep: number;
  src: string;
  dst: string;
  /** last octet of the destination MAC of stream k = dst + k * macStep (mod 256) */
  macStep: number;
  /** VLAN id 0..4095 (0 = priority tag only); undefined = untagged */
  vlan?: number;
  prio: number;
  iRms: number;
  vRms: number;
  simulate: boolean;
  /** smpSynch value: 0 none, 1 local, 2 global; undefined = field omitted */
  smpSynch?: number;
  confRev: number;
  /** optional ASDU fields */
  datSet?: string;
  refrTm: boolean;
  smpRate: boolean;
  smpMod?: number;
}

export const DEFAULT_GEN: GenOptions = {
  streams: 1,
  freq: 50,
  spc: 80,
  asdu: 1,
  svidPrefix: "svID",
  svidDigits: 4,
  startId: 0,
  appid: 0x4000,
  appidStep: 0,
  src: "c4:b5:12:00:00:01",
  dst: "01:0c:cd:04:00:01",
  macStep: 0,
  prio: 4,
  iRms: 1,
  vRms: 57,
  simulate: false,
  smpSynch: 2,
  confRev: 1,
  refrTm: false,
  smpRate: false,
};

/** One stream of the plan. */
export interface StreamPlan {
  index: number;
  svID: string;
  appid: number;
  src: string;
  dst: string;
  vlan?: { pcp: number; dei: boolean; vid: number };
}

/** Rates derived from --freq/--spc/--asdu. */
export interface RatePlan {
  /** samples per second per stream (= smpCnt modulus: smpCnt wraps to 0 each second) */
  sampleRate: number;
  /** ASDUs (consecutive samples) per frame */
  asdu: number;
  /** frames per second per stream */
  framesPerSecond: number;
  /** nominal frame period, ns (may be fractional, e.g. 208333.33 at 4800/s) */
  framePeriodNs: number;
}

export interface Plan {
  options: GenOptions;
  rate: RatePlan;
  streams: StreamPlan[];
}

/** Parse an integer option strictly ("12", "0x4000" when hex is allowed); one-line error otherwise. */
export function parseIntOption(name: string, text: string, min: number, max: number, hex = false): number {
  const t = text.trim();
  const re = hex ? /^(0x)?[0-9a-fA-F]+$/ : /^[0-9]+$/;
  if (!re.test(t))
    fail(`${name} must be ${hex ? "a hex number like 4000 or 0x4000" : "a whole number"}, got "${text}"`);
  const v = hex ? Number.parseInt(t.replace(/^0x/i, ""), 16) : Number.parseInt(t, 10);
  if (!Number.isSafeInteger(v) || v < min || v > max)
    fail(
      `${name} must be between ${hex ? `0x${min.toString(16)}` : min} and ${hex ? `0x${max.toString(16)}` : max}, got ${text}`,
    );
  return v;
}

/** Parse a number option (RMS values etc.). */
export function parseNumberOption(name: string, text: string, min: number, max: number): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v) || v < min || v > max)
    fail(`${name} must be a number between ${min} and ${max}, got "${text}"`);
  return v;
}

/** Check an svID: 1..34 bytes of printable ASCII (VisibleString). */
export function checkSvId(svID: string): void {
  if (svID.length === 0) fail("an svID must not be empty");
  if (!/^[\x20-\x7e]*$/.test(svID))
    fail(`svID "${svID}" is not printable ASCII; an svID is a VisibleString (characters 0x20-0x7E)`);
  if (svID.length > MAX_SVID_BYTES)
    fail(`svID "${svID}" is ${svID.length} bytes; at most ${MAX_SVID_BYTES} are allowed (9-2LE)`);
}

function checkMac(name: string, mac: string): void {
  try {
    parseMac(mac);
  } catch (e) {
    if (e instanceof MacParseError) fail(`${name}: ${e.message}`);
    throw e;
  }
}

function offsetMac(mac: string, step: number): string {
  const b = parseMac(mac);
  b[5] = (b[5] + step) & 0xff;
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

/** Build and validate the full plan. */
export function buildPlan(opts: GenOptions): Plan {
  if (opts.freq !== 50 && opts.freq !== 60) fail(`--freq must be 50 or 60, got ${opts.freq}`);
  if (opts.spc !== 80 && opts.spc !== 256) fail(`--spc must be 80 or 256, got ${opts.spc}`);
  const sampleRate = opts.freq * opts.spc;
  if (!Number.isInteger(opts.asdu) || opts.asdu < 1 || opts.asdu > 16)
    fail(`--asdu must be between 1 and 16, got ${opts.asdu}`);
  if (sampleRate % opts.asdu !== 0)
    fail(`--asdu ${opts.asdu} does not divide ${sampleRate} samples per second; use 1, 2, 4 or 8`);
  if (opts.svidDigits < 1 || opts.svidDigits > 8)
    fail(`--svid-digits must be between 1 and 8, got ${opts.svidDigits}`);
  if (opts.vlan !== undefined && (opts.vlan < 0 || opts.vlan > 4095))
    fail(`--vlan must be between 0 and 4095, got ${opts.vlan}`);
  if (opts.prio < 0 || opts.prio > 7) fail(`--prio must be between 0 and 7, got ${opts.prio}`);
  if (opts.smpSynch !== undefined && (opts.smpSynch < 0 || opts.smpSynch > 255))
    fail(`--smpsynch must be between 0 and 255, got ${opts.smpSynch}`);
  checkMac("--src", opts.src);
  checkMac("--dst", opts.dst);
  let svids: string[];
  if (opts.svids && opts.svids.length > 0) {
    svids = opts.svids;
    if (new Set(svids).size !== svids.length)
      fail("--svids lists the same svID twice; each stream needs its own");
  } else {
    svids = [];
    const n = opts.streams;
    if (!Number.isInteger(n) || n < 1 || n > MAX_STREAMS)
      fail(`--streams must be between 1 and ${MAX_STREAMS}, got ${n}`);
    const last = opts.startId + n - 1;
    if (String(last).length > opts.svidDigits)
      fail(
        `--start-id ${opts.startId} with ${n} streams needs more than --svid-digits ${opts.svidDigits} digits`,
      );
    for (let k = 0; k < n; k++)
      svids.push(`${opts.svidPrefix}${String(opts.startId + k).padStart(opts.svidDigits, "0")}`);
  }
  if (svids.length < 1 || svids.length > MAX_STREAMS)
    fail(`the stream count must be between 1 and ${MAX_STREAMS}, got ${svids.length}`);
  for (const s of svids) checkSvId(s);
  if (
    opts.datSet !== undefined &&
    (opts.datSet.length === 0 || !/^[\x20-\x7e]*$/.test(opts.datSet) || opts.datSet.length > 129)
  )
    fail(`--datset must be 1..129 printable ASCII characters, got "${opts.datSet}"`);
  const streams: StreamPlan[] = svids.map((svID, k) => {
    const appid = opts.appid + k * opts.appidStep;
    if (appid < 0 || appid > 0xffff)
      fail(`APPID of stream ${k} (0x${appid.toString(16)}) exceeds 0xFFFF; lower --appid-step`);
    return {
      index: k,
      svID,
      appid,
      src: opts.src,
      dst: offsetMac(opts.dst, k * opts.macStep),
      vlan: opts.vlan === undefined ? undefined : { pcp: opts.prio, dei: false, vid: opts.vlan },
    };
  });
  const framesPerSecond = sampleRate / opts.asdu;
  return {
    options: { ...opts, streams: streams.length },
    rate: { sampleRate, asdu: opts.asdu, framesPerSecond, framePeriodNs: 1e9 / framesPerSecond },
    streams,
  };
}

/** Time of frame k since the start, in ns, exact (no float drift over millions of frames). */
export function frameOffsetNs(rate: RatePlan, k: number): number {
  const fps = rate.framesPerSecond;
  const sec = Math.floor(k / fps);
  const rem = k - sec * fps;
  return sec * 1e9 + Math.round((rem * 1e9) / fps);
}
