/**
 * Turns the stream values shared by `pcap generate` and `publish` (strings, as a command line gives them) into
 * validated GenOptions. The flags themselves are defined in the CLI (src/cli/stream-flags.ts); errors name them.
 */
import { fail } from "../errors.js";
import { DEFAULT_GEN, type GenOptions, parseIntOption, parseNumberOption } from "./plan.js";

/** Raw values of the stream flags; every field optional (absent flags stay undefined). */
export interface StreamValues {
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

export function genOptionsFromValues(v: StreamValues): GenOptions {
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
