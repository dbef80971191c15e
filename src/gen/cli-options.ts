/**
 * Turns the stream flags shared by `pcap generate` and `publish` (strings as the CLI parser hands them over)
 * into validated GenOptions. The flag names are fixed by the issue (scripts depend on them).
 */
import { fail } from "../errors.js";
import { DEFAULT_GEN, type GenOptions, parseIntOption, parseNumberOption } from "./plan.js";

/** Raw values of the stream flags; every field optional, as commander leaves absent flags undefined. */
export interface StreamCliValues {
  streams?: string;
  freq?: string;
  spc?: string;
  asdu?: string;
  svidPrefix?: string;
  svidDigits?: string;
  startId?: string;
  svids?: string;
  appid?: string;
  appidStep?: string;
  src?: string;
  dst?: string;
  macStep?: string;
  vlan?: string;
  prio?: string;
  iRms?: string;
  vRms?: string;
  simulate?: boolean;
  /** a string with --smpsynch N, false with --no-smpsynch */
  smpsynch?: string | boolean;
  confRev?: string;
  datset?: string;
  refrtm?: boolean;
  smprate?: boolean;
  smpmod?: string;
}

/** Help text lines for the shared flags (used by both commands). */
export const STREAM_FLAGS: [flags: string, description: string][] = [
  ["--streams <n>", "number of streams, 1..64 (default 1)"],
  ["--freq <hz>", "power frequency 50 or 60 (default 50)"],
  ["--spc <n>", "samples per cycle 80 or 256 (default 80)"],
  ["--asdu <n>", "ASDUs (consecutive samples) per frame (default 1; 9-2LE 256 spc uses 8)"],
  ["--svid-prefix <s>", 'svID prefix (default "svID"); svID = prefix + zero-padded number'],
  ["--svid-digits <d>", "digits of the svID number, 1..8 (default 4)"],
  ["--start-id <n>", "number of the first stream's svID (default 0)"],
  ["--appid <hex>", "APPID in hex (default 4000)"],
  ["--appid-step <n>", "add n to the APPID for each further stream (default 0: all share it)"],
  ["--src <mac>", "source MAC (default c4:b5:12:00:00:01)"],
  ["--dst <mac>", "destination MAC (default 01:0c:cd:04:00:01)"],
  ["--mac-step <n>", "add n to the destination MAC's last octet for each further stream (default 0)"],
  ["--vlan <id>", "802.1Q VLAN id 0..4095 (0 = priority tag only; default: untagged)"],
  ["--prio <p>", "802.1Q priority 0..7 with --vlan (default 4)"],
  ["--i-rms <A>", "phase current RMS in A (default 1)"],
  ["--v-rms <V>", "phase voltage RMS in V (default 57)"],
  ["--simulate", "set the Simulate bit (Reserved1 bit 15)"],
  ["--smpsynch <n>", "smpSynch value: 0 none, 1 local, 2 global (default 2)"],
  ["--no-smpsynch", "omit the smpSynch field (ASN.1 OPTIONAL; Ed2 makes it mandatory)"],
  ["--conf-rev <n>", "confRev (default 1)"],
  ["--datset <ref>", "add the optional datSet field (e.g. MU01LD0/LLN0$PhsMeas1)"],
  ["--refrtm", "add the optional refrTm field (the sample time)"],
  ["--smprate", "add the optional smpRate field (samples per cycle)"],
  ["--smpmod <n>", "add the optional smpMod field (0 per cycle, 1 per second, 2 seconds per sample)"],
];

export function genOptionsFromCli(v: StreamCliValues): GenOptions {
  const o: GenOptions = { ...DEFAULT_GEN };
  if (v.streams !== undefined) o.streams = parseIntOption("--streams", v.streams, 1, 64);
  if (v.freq !== undefined) o.freq = parseIntOption("--freq", v.freq, 50, 60);
  if (v.spc !== undefined) o.spc = parseIntOption("--spc", v.spc, 80, 256);
  if (v.asdu !== undefined) o.asdu = parseIntOption("--asdu", v.asdu, 1, 16);
  if (v.svidPrefix !== undefined) o.svidPrefix = v.svidPrefix;
  if (v.svidDigits !== undefined) o.svidDigits = parseIntOption("--svid-digits", v.svidDigits, 1, 8);
  if (v.startId !== undefined) o.startId = parseIntOption("--start-id", v.startId, 0, 99_999_999);
  if (v.svids !== undefined) {
    if (v.streams !== undefined)
      fail("give either --streams or --svids, not both (--svids sets the stream count)");
    if (v.svidPrefix !== undefined) fail("give either --svid-prefix or --svids, not both");
    o.svids = v.svids.split(",");
  }
  if (v.appid !== undefined) o.appid = parseIntOption("--appid", v.appid, 0, 0xffff, true);
  if (v.appidStep !== undefined) o.appidStep = parseIntOption("--appid-step", v.appidStep, 0, 0xffff);
  if (v.src !== undefined) o.src = v.src;
  if (v.dst !== undefined) o.dst = v.dst;
  if (v.macStep !== undefined) o.macStep = parseIntOption("--mac-step", v.macStep, 0, 255);
  if (v.vlan !== undefined) o.vlan = parseIntOption("--vlan", v.vlan, 0, 4095);
  if (v.prio !== undefined) {
    o.prio = parseIntOption("--prio", v.prio, 0, 7);
    if (v.vlan === undefined) fail("--prio needs --vlan (use --vlan 0 for a priority tag without a VLAN)");
  }
  if (v.iRms !== undefined) o.iRms = parseNumberOption("--i-rms", v.iRms, 0, 2_000_000);
  if (v.vRms !== undefined) o.vRms = parseNumberOption("--v-rms", v.vRms, 0, 20_000_000);
  if (v.simulate) o.simulate = true;
  if (v.smpsynch === false) o.smpSynch = undefined;
  else if (typeof v.smpsynch === "string") o.smpSynch = parseIntOption("--smpsynch", v.smpsynch, 0, 255);
  if (v.confRev !== undefined) o.confRev = parseIntOption("--conf-rev", v.confRev, 0, 0xffffffff);
  if (v.datset !== undefined) o.datSet = v.datset;
  if (v.refrtm) o.refrTm = true;
  if (v.smprate) o.smpRate = true;
  if (v.smpmod !== undefined) o.smpMod = parseIntOption("--smpmod", v.smpmod, 0, 65535);
  return o;
}
