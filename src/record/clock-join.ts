/**
 * Joins a host record and a guest record per SV with the guest's times put on the host's clock: the guest input
 * is wrapped so its probe times pass through a ClockMapping (its t0, the publisher's refrTm, is already on the
 * publisher's clock and is dropped), then JoinedRecords joins on (svID, iteration, smpCnt). The joined record's
 * metadata says which points were on which clock and the mapping's uncertainty (crossClock).
 */
import { type ClockMapping, guestToHostTime } from "./clock-sync.js";
import type { RecordColumns } from "./columns.js";
import type { RecordInput } from "./input.js";
import { JoinedRecords, type JoinOptions } from "./join.js";
import type { RecordMeta } from "./schema.js";

class GuestOnHostClock implements RecordInput {
  readonly kind;
  readonly hasMeta;
  readonly identity;
  readonly meta: RecordMeta;
  readonly path: string;
  private readonly keep: number[];
  private readonly map: (t: bigint) => bigint;

  constructor(
    private readonly inner: RecordInput,
    mapping: ClockMapping,
    hostRecordOffsetNs: bigint,
  ) {
    this.kind = inner.kind;
    this.hasMeta = inner.hasMeta;
    this.identity = inner.identity;
    this.path = inner.path;
    if (inner.meta.clockOffsetNs === undefined)
      throw new Error(
        `${inner.path}: the record does not say its monotonic-to-${inner.meta.clock} offset (clockOffsetNs): record it again with this svtrace`,
      );
    this.map = guestToHostTime(mapping, BigInt(inner.meta.clockOffsetNs), hostRecordOffsetNs);
    this.keep = inner.meta.points.map((_, i) => i).filter((i) => inner.meta.points[i]?.name !== "t0");
    this.meta = { ...inner.meta, points: this.keep.map((i) => inner.meta.points[i]) as RecordMeta["points"] };
  }
  get size(): number {
    return this.inner.size;
  }
  get bytesRead(): number {
    return this.inner.bytesRead;
  }
  get rows(): number {
    return this.inner.rows;
  }
  get warnings(): string[] {
    return this.inner.warnings;
  }
  *batches(): Generator<RecordColumns> {
    for (const b of this.inner.batches()) {
      const t = this.keep.map((i) => {
        const src = b.t[i] as BigInt64Array;
        const valid = b.valid[i];
        const out = new BigInt64Array(b.length);
        for (let r = 0; r < b.length; r++) if (valid?.[r] !== 0) out[r] = this.map(src[r] as bigint);
        return out;
      });
      yield { ...b, t, valid: this.keep.map((i) => b.valid[i] ?? null) };
    }
  }
  close(): void {
    this.inner.close();
  }
}

/** Host record + guest record, joined per SV, the guest's times on the host's clock. */
export function joinAcrossClocks(
  host: RecordInput,
  guest: RecordInput,
  mapping: ClockMapping,
  opts: JoinOptions = {},
): { input: JoinedRecords; meta: RecordMeta } {
  const hostOffset =
    host.meta.clockOffsetNs !== undefined ? BigInt(host.meta.clockOffsetNs) : mapping.hostRealMinusMonoNs;
  const g = new GuestOnHostClock(guest, mapping, hostOffset);
  const input = new JoinedRecords([host, g], opts);
  // which joined point came from which input: JoinedRecords keeps each input's points, renamed only on clashes
  const hostNames = new Set(host.meta.points.map((p) => p.label));
  const guestNames = new Set(g.meta.points.map((p) => p.label));
  const pts = input.meta.points;
  const meta: RecordMeta = {
    ...input.meta,
    crossClock: mapping.meta(
      pts.filter((p) => hostNames.has(p.label)).map((p) => p.name),
      pts.filter((p) => guestNames.has(p.label) && !hostNames.has(p.label)).map((p) => p.name),
    ),
  };
  return { input, meta };
}
