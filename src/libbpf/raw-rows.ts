/**
 * A batch of rows as the libbpf backend reads them from the ring buffer, column-wise in typed arrays (no
 * object or BigInt per row): kernel stream number, smpCnt, APPID, kernel iteration, complete flag, refrTm and
 * the raw per-point times as 32-bit word pairs (lo, hi), 0/0 where a point did not see the SV. The session
 * (../trace/session.ts) turns it into record rows. With context (record --context), each row also has
 * each point's struct point_ctx (bpf/svtrace.bpf.c) as POINT_CTX_WORDS 32-bit words.
 */

/** struct point_ctx as 32-bit words: cpu, tid, comm[4], run, runnable, sleep, blocker, blocker_comm[4], flags, pad */
export const POINT_CTX_WORDS = 16;

export class RawRows {
  length = 0;
  readonly stream: Uint32Array;
  readonly smpCnt: Uint32Array;
  readonly appid: Uint32Array;
  readonly iteration: Float64Array;
  /** 1: seen at the last point (E_ROW); 0: never reached it (E_INCOMPLETE) */
  readonly complete: Uint8Array;
  /** refrTm words of row r at 2r (lo), 2r+1 (hi) */
  readonly refrTm: Uint32Array;
  /** raw time words of row r, point j at 2(r*points+j) (lo), +1 (hi) */
  readonly t: Uint32Array;
  /** point_ctx words of row r, point j at (r*points+j)*POINT_CTX_WORDS; null without context */
  readonly ctx: Uint32Array | null;

  constructor(
    readonly points: number,
    readonly capacity = 4096,
    context = false,
  ) {
    this.ctx = context ? new Uint32Array(points * capacity * POINT_CTX_WORDS) : null;
    this.stream = new Uint32Array(capacity);
    this.smpCnt = new Uint32Array(capacity);
    this.appid = new Uint32Array(capacity);
    this.iteration = new Float64Array(capacity);
    this.complete = new Uint8Array(capacity);
    this.refrTm = new Uint32Array(2 * capacity);
    this.t = new Uint32Array(2 * points * capacity);
  }

  /** The raw times of row r as BigInts (0n = not seen), for the rare paths that need an event object. */
  times(r: number): bigint[] {
    const out: bigint[] = [];
    for (let j = 0; j < this.points; j++) {
      const at = 2 * (r * this.points + j);
      out.push((BigInt(this.t[at + 1] as number) << 32n) | BigInt(this.t[at] as number));
    }
    return out;
  }

  /** refrTm of row r as a BigInt. */
  refrTmOf(r: number): bigint {
    return (BigInt(this.refrTm[2 * r + 1] as number) << 32n) | BigInt(this.refrTm[2 * r] as number);
  }
}
