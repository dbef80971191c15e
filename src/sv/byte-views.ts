/**
 * Uint8Array views that remember where they come from. Reading `data.buffer` and `data.byteOffset` of a typed
 * array is not inlined by Node 20's V8 and costs ~50 ns together, which the SV decoder would pay per frame to make
 * its seqData view. A capture reader makes its packet views with viewOf(), which notes the most recent view's
 * buffer and offset; subView() of that very view then skips both reads. Any other array takes the plain path,
 * so the result is the same view either way.
 */

const NO_BUFFER = new ArrayBuffer(0);
let lastView: Uint8Array | undefined;
let lastBuffer: ArrayBufferLike = NO_BUFFER;
let lastOffset = 0;

/** new Uint8Array(buffer, byteOffset, length), remembered as the most recent view (until the next call). */
export function viewOf(buffer: ArrayBufferLike, byteOffset: number, length: number): Uint8Array {
  const v = new Uint8Array(buffer, byteOffset, length);
  lastView = v;
  lastBuffer = buffer;
  lastOffset = byteOffset;
  return v;
}

/** A view of data[off, off + len) on data's buffer (no copy), as `new Uint8Array(data.buffer, ...)` makes. */
export function subView(data: Uint8Array, off: number, len: number): Uint8Array {
  return data === lastView
    ? new Uint8Array(lastBuffer, lastOffset + off, len)
    : new Uint8Array(data.buffer, data.byteOffset + off, len);
}

/** Drop the remembered view (so that a closed reader's buffer can be collected). */
export function forgetView(): void {
  lastView = undefined;
  lastBuffer = NO_BUFFER;
  lastOffset = 0;
}
