/**
 * Realistic 9-2LE measurement data: balanced three-phase sines (IA/IB/IC, UA/UB/UC) at the configured RMS,
 * scaled 1 mA and 10 mV per LSB, with IN and UN as the sums of the phases flagged derived (quality 0x2000).
 * The signal repeats every cycle, so one table of `spc` seqData blocks (indexed by smpCnt % spc) serves every
 * sample of every stream; the publisher and the pcap generator copy from it, so their output is identical.
 */
import { encodeDataset, LE_CURRENT_A_PER_LSB, LE_VOLTAGE_V_PER_LSB, Q_DERIVED } from "../sv/dataset.js";

export interface WaveformOptions {
  /** samples per cycle (80 or 256) */
  spc: number;
  /** phase current RMS in A */
  iRms: number;
  /** phase-to-neutral voltage RMS in V */
  vRms: number;
  /** current lags voltage by this angle (degrees); default 0 */
  lagDeg?: number;
}

/** The 8 INT32 values of sample `n` (n counted from a cycle start). */
export function sampleValues(opts: WaveformOptions, n: number): number[] {
  const w = (2 * Math.PI * n) / opts.spc;
  const lag = ((opts.lagDeg ?? 0) * Math.PI) / 180;
  const ia = (opts.iRms * Math.SQRT2) / LE_CURRENT_A_PER_LSB;
  const ua = (opts.vRms * Math.SQRT2) / LE_VOLTAGE_V_PER_LSB;
  const third = (2 * Math.PI) / 3;
  const i = [0, -third, third].map((p) => Math.round(ia * Math.sin(w + p - lag)));
  const u = [0, -third, third].map((p) => Math.round(ua * Math.sin(w + p)));
  return [i[0], i[1], i[2], i[0] + i[1] + i[2], u[0], u[1], u[2], u[0] + u[1] + u[2]];
}

/** Quality words: good for the phases, derived for IN and UN. */
export const LE_QUALITIES: readonly number[] = [0, 0, 0, Q_DERIVED, 0, 0, 0, Q_DERIVED];

/** One 64-byte seqData per sample of a cycle: table[smpCnt % spc]. */
export function buildSeqDataTable(opts: WaveformOptions): Uint8Array[] {
  const table: Uint8Array[] = [];
  for (let n = 0; n < opts.spc; n++) table.push(encodeDataset(sampleValues(opts, n), LE_QUALITIES));
  return table;
}
