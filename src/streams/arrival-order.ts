/**
 * Out-of-order SVs of one stream counted in the order they arrived, when the rows come in another order.
 *
 * An SV is out of order when it arrived after a newer SV of its stream (a larger (iteration, smpCnt)), the
 * rule `svtrace subscribe` applies at the application. A record's rows are not in arrival order: the tracer
 * writes each SV when it reaches the last point, draining each CPU's queue in turn (SVs a few milliseconds
 * apart swap places), and an SV that never reaches the last point is written seconds later, when its map
 * slot is reused or the trace ends. Counting in row order would report all of those as out of order (seen:
 * 7 per stream in a 8 s bridge-lab demo where nothing was reordered, and every SV lost in OVS).
 *
 * So rows are put back in arrival order first: each comes with its arrival time and waits until no row that
 * arrived earlier can still come, taken as `lagNs` (10 s) of arrival time behind the latest arrival seen. Rows
 * mostly come in arrival order: those are appended to a ring, O(1); the others go to a small heap, O(log n).
 * The next row in arrival order is the earlier of the ring's head and the heap's top. A row that comes more
 * than `lagNs` late, after rows that arrived after it were counted already, is judged against the newest SV
 * counted so far (exact unless a newer one arrived in between). Memory: `lagNs` of rows, 16 bytes each.
 */

const DEFAULT_LAG_NS = 10e9;

export class ArrivalOrder {
  // ring of rows in arrival order (arrival ns, key)
  private ringT = new Float64Array(1024);
  private ringK = new Float64Array(1024);
  private head = 0;
  private size = 0;
  /** arrival time of the ring's last row */
  private lastIn = Number.NEGATIVE_INFINITY;
  // min-heap on arrival time of the rows that came after a later-arrived row
  private heapT = new Float64Array(64);
  private heapK = new Float64Array(64);
  private heapN = 0;
  private maxT = Number.NEGATIVE_INFINITY;
  /** arrival time of the last row counted */
  private lastOut = Number.NEGATIVE_INFINITY;
  private newest = Number.NEGATIVE_INFINITY;
  private late = 0;

  constructor(private readonly lagNs = DEFAULT_LAG_NS) {}

  /** One SV: arrival time (ns, any origin) and its key, increasing along the stream (iteration * 65536 + smpCnt). */
  push(t: number, key: number): void {
    if (t < this.lastOut) {
      this.count(key);
      return;
    }
    if (t >= this.lastIn) this.append(t, key);
    else this.heapPush(t, key);
    if (t > this.maxT) {
      this.maxT = t;
      this.drain(t - this.lagNs);
    }
  }

  /** SVs that arrived after a newer SV of the stream; counts everything still waiting. */
  finish(): number {
    this.drain(Number.POSITIVE_INFINITY);
    return this.late;
  }

  /** Count, in arrival order, every waiting row that arrived before `until`. */
  private drain(until: number): void {
    for (;;) {
      const fromRing = this.size > 0;
      const fromHeap = this.heapN > 0;
      if (!fromRing && !fromHeap) return;
      const rt = fromRing ? (this.ringT[this.head] as number) : Number.POSITIVE_INFINITY;
      const ht = fromHeap ? (this.heapT[0] as number) : Number.POSITIVE_INFINITY;
      if (rt <= ht) {
        if (!(rt < until)) return;
        const k = this.ringK[this.head] as number;
        this.head = (this.head + 1) & (this.ringT.length - 1);
        this.size--;
        this.lastOut = rt;
        this.count(k);
      } else {
        if (!(ht < until)) return;
        const k = this.heapK[0] as number;
        this.heapPop();
        this.lastOut = ht;
        this.count(k);
      }
    }
  }

  private count(key: number): void {
    if (key < this.newest) this.late++;
    else this.newest = key;
  }

  private append(t: number, key: number): void {
    if (this.size === this.ringT.length) this.growRing();
    const i = (this.head + this.size) & (this.ringT.length - 1);
    this.ringT[i] = t;
    this.ringK[i] = key;
    this.size++;
    this.lastIn = t;
  }

  private growRing(): void {
    const n = this.ringT.length;
    const t = new Float64Array(n * 2);
    const k = new Float64Array(n * 2);
    for (let j = 0; j < this.size; j++) {
      const i = (this.head + j) & (n - 1);
      t[j] = this.ringT[i] as number;
      k[j] = this.ringK[i] as number;
    }
    this.ringT = t;
    this.ringK = k;
    this.head = 0;
  }

  private heapPush(t: number, key: number): void {
    if (this.heapN === this.heapT.length) {
      const nt = new Float64Array(this.heapN * 2);
      const nk = new Float64Array(this.heapN * 2);
      nt.set(this.heapT);
      nk.set(this.heapK);
      this.heapT = nt;
      this.heapK = nk;
    }
    const T = this.heapT;
    const K = this.heapK;
    let i = this.heapN++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((T[p] as number) <= t) break;
      T[i] = T[p] as number;
      K[i] = K[p] as number;
      i = p;
    }
    T[i] = t;
    K[i] = key;
  }

  private heapPop(): void {
    const T = this.heapT;
    const K = this.heapK;
    const n = --this.heapN;
    if (n === 0) return;
    const t = T[n] as number;
    const key = K[n] as number;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (T[c + 1] as number) < (T[c] as number)) c++;
      if ((T[c] as number) >= t) break;
      T[i] = T[c] as number;
      K[i] = K[c] as number;
      i = c;
    }
    T[i] = t;
    K[i] = key;
  }
}
