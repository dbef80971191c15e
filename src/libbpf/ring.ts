/**
 * A BPF ring buffer (BPF_MAP_TYPE_RINGBUF) read straight from its memory, as libbpf's ringbuf_process_ring
 * does, but without a C -> JS callback per record: the consumer page is mapped read-write at offset 0, the
 * producer page and the data pages read-only at offset page_size, the data twice in a row (the kernel maps it
 * so) so a record that wraps is contiguous. Each record has an 8-byte header (length, BUSY bit 31 while the
 * producer writes it, DISCARD bit 30), its data follows, 8-byte aligned. Hand-written because libbpf 1.1 has
 * no call that hands out a batch of records (ring__consume_n came with 1.5) and a koffi callback per record
 * cost most of svtrace's CPU at 38 400 SV/s.
 */
import koffi from "koffi";
import { fail } from "../errors.js";
import {
  _SC_PAGESIZE,
  lastError,
  MAP_SHARED,
  mmap,
  munmap,
  PROT_READ,
  PROT_WRITE,
  sysconf,
} from "../net/libc.js";

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const LEN_MASK = 0x3fffffff;
const HDR = 8;
const MAP_FAILED = 0xffffffffffffffffn;

/** Called per record: `u32` is the ring's data as 32-bit words, the record's data starts at word `at`. */
export type RingRecordFn = (u32: Uint32Array, at: number, len: number) => void;

export class BpfRing {
  private cons: unknown;
  private prod: unknown;
  private readonly page: number;
  private readonly consPos: BigUint64Array;
  private readonly prodPos: BigUint64Array;
  private readonly data: Uint32Array;
  private open = true;

  /** `fd`: the ring buffer map's fd; `size`: its max_entries (a power of two, bytes). */
  constructor(
    fd: number,
    private readonly size: number,
  ) {
    this.page = sysconf(_SC_PAGESIZE);
    this.cons = mmap(null, this.page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (!this.cons || koffi.address(this.cons) === MAP_FAILED)
      fail(`cannot map the BPF ring buffer's consumer page: ${lastError()}`);
    this.prod = mmap(null, this.page + 2 * size, PROT_READ, MAP_SHARED, fd, this.page);
    if (!this.prod || koffi.address(this.prod) === MAP_FAILED) {
      munmap(this.cons, this.page);
      fail(`cannot map the BPF ring buffer's data: ${lastError()}`);
    }
    this.consPos = new BigUint64Array(koffi.view(this.cons, this.page), 0, 1);
    const prodBuf = koffi.view(this.prod, this.page + 2 * size);
    this.prodPos = new BigUint64Array(prodBuf, 0, 1);
    this.data = new Uint32Array(prodBuf, this.page, (2 * size) / 4);
  }

  /**
   * Hand every committed record to `fn`, in order, and give their space back to the kernel; stops at a record
   * still being written (BUSY). Returns the number of records handed out.
   */
  consume(fn: RingRecordFn): number {
    if (!this.open) return 0;
    const mask = this.size - 1;
    let cons = Number(Atomics.load(this.consPos, 0));
    let n = 0;
    try {
      for (;;) {
        let got = false;
        const prod = Number(Atomics.load(this.prodPos, 0));
        while (cons < prod) {
          // positions stay below 2^53 (8 PB written): Number arithmetic is exact
          const off = cons % (mask + 1);
          const at = off >>> 2;
          const len = Atomics.load(this.data, at);
          if (len & BUSY) return n;
          got = true;
          cons += ((len & LEN_MASK) + HDR + 7) & ~7;
          if ((len & DISCARD) === 0) {
            n++;
            fn(this.data, at + HDR / 4, len & LEN_MASK);
          }
        }
        Atomics.store(this.consPos, 0, BigInt(cons));
        if (!got) return n;
      }
    } finally {
      Atomics.store(this.consPos, 0, BigInt(cons));
    }
  }

  /** Unmap; the ring must not be read afterwards. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    munmap(this.prod, this.page + 2 * this.size);
    munmap(this.cons, this.page);
  }
}
