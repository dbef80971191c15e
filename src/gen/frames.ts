/**
 * SV frame templates for a stream plan: each stream's frame is encoded once (h1's encodeFrameWithLayout) and
 * then, per frame, only smpCnt, seqData (from the shared waveform table) and optionally refrTm are patched in
 * place. Used by the pcap generator and the publisher, so both produce the same bytes for the same sample.
 */
import { encodeFrameWithLayout } from "../sv/encode.js";
import type { Asdu, SvFrame } from "../sv/types.js";
import { utcTimeFromNs, writeUtcTime } from "../sv/utc-time.js";
import type { Plan, StreamPlan } from "./plan.js";
import { buildSeqDataTable } from "./waveform.js";

/** Where to patch one stream's template. Offsets count from the start of the frame. */
export interface StreamTemplate {
  svID: string;
  bytes: Uint8Array;
  smpCnt: number[];
  seqData: number[];
  /** refrTm offsets (present when the plan asks for refrTm or the publisher stamps T0) */
  refrTm: number[];
}

/** Encode the first frame of a stream (smpCnt 0.., seqData from the table) and record the patch offsets. */
export function buildTemplate(plan: Plan, stream: StreamPlan, withRefrTm: boolean): StreamTemplate {
  const o = plan.options;
  const asdus: Asdu[] = [];
  for (let a = 0; a < plan.rate.asdu; a++) {
    asdus.push({
      svID: stream.svID,
      datSet: o.datSet,
      smpCnt: a,
      confRev: o.confRev,
      refrTm: withRefrTm || o.refrTm ? { seconds: 0, fraction: 0, quality: 0 } : undefined,
      smpSynch: o.smpSynch,
      smpRate: o.smpRate ? o.spc : undefined,
      seqData: new Uint8Array(64),
      smpMod: o.smpMod,
    });
  }
  const frame: SvFrame = {
    dst: stream.dst,
    src: stream.src,
    vlan: stream.vlan,
    pdu: {
      appid: stream.appid,
      length: 0,
      reserved1: o.simulate ? 0x8000 : 0,
      reserved2: 0,
      noASDU: asdus.length,
      asdus,
    },
  };
  const layout = encodeFrameWithLayout(frame);
  const refrTm = layout.asdus.map((l) => l.refrTm).filter((x): x is number => x !== undefined);
  return {
    svID: stream.svID,
    bytes: layout.bytes,
    smpCnt: layout.asdus.map((l) => l.smpCnt),
    seqData: layout.asdus.map((l) => l.seqData),
    refrTm,
  };
}

/** Builds frames for every stream of a plan by patching the templates. */
export class FrameFactory {
  readonly templates: StreamTemplate[];
  readonly table: Uint8Array[];
  readonly modulus: number;
  readonly spc: number;
  readonly asdu: number;
  /** refrTm is written from the sample time (pcap generate with --refrtm); the publisher writes T0 instead */
  readonly refrTmFromSampleTime: boolean;

  constructor(plan: Plan, opts: { withRefrTm?: boolean } = {}) {
    this.templates = plan.streams.map((s) => buildTemplate(plan, s, opts.withRefrTm ?? false));
    this.table = buildSeqDataTable({
      spc: plan.options.spc,
      iRms: plan.options.iRms,
      vRms: plan.options.vRms,
    });
    this.modulus = plan.rate.sampleRate;
    this.spc = plan.options.spc;
    this.asdu = plan.rate.asdu;
    this.refrTmFromSampleTime = plan.options.refrTm;
  }

  /**
   * Patch stream `s`'s template for the frame whose first sample has counter `smpCnt0` and return its bytes
   * (the template itself: copy it if it must outlive the next call for the same stream).
   * `sampleTimeNs` (ns since 1970 of the first sample) fills refrTm when the plan asks for it.
   */
  frame(s: number, smpCnt0: number, sampleTimeNs?: bigint): Uint8Array {
    const t = this.templates[s];
    const b = t.bytes;
    for (let a = 0; a < this.asdu; a++) {
      const cnt = (smpCnt0 + a) % this.modulus;
      const off = t.smpCnt[a];
      b[off] = cnt >>> 8;
      b[off + 1] = cnt & 0xff;
      b.set(this.table[cnt % this.spc], t.seqData[a]);
    }
    if (this.refrTmFromSampleTime && sampleTimeNs !== undefined) {
      const perSample = BigInt(Math.round(1e9 / this.modulus));
      for (let a = 0; a < t.refrTm.length; a++)
        writeUtcTime(b, t.refrTm[a], utcTimeFromNs(sampleTimeNs + BigInt(a) * perSample, 0x0a));
    }
    return b;
  }
}
