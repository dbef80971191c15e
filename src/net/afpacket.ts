/**
 * Raw Ethernet over AF_PACKET (koffi libc bindings): open a socket bound to one interface for one EtherType,
 * send frames, and receive frames with their kernel receive timestamp (SO_TIMESTAMPNS control message).
 *
 * Receiving uses recvmsg with a msghdr/iovec/cmsg laid out once in fixed Buffers (their memory never moves, so
 * their addresses are written into the msghdr a single time). The kernel strips a received 802.1Q tag into
 * PACKET_AUXDATA; `recv()` puts it back into the frame so decoders see the VLAN as it was on the wire.
 * Outgoing copies of our own frames are ignored (PACKET_IGNORE_OUTGOING, and sll_pkttype as a fallback).
 * All calls are synchronous: use this from a worker_thread when the loop must not block the event loop.
 */
import koffi from "koffi";
import {
  AF_PACKET,
  bind,
  close,
  EAGAIN,
  EINTR,
  enterNetns,
  errno,
  htons,
  if_nametoindex,
  lastError,
  MSG_DONTWAIT,
  PACKET_AUXDATA,
  PACKET_IGNORE_OUTGOING,
  recvmsg,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_RCVTIMEO,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SO_TIMESTAMPNS,
  SOCK_RAW,
  SOL_PACKET,
  SOL_SOCKET,
  send,
  sendmmsg,
  setsockopt,
  socket,
} from "./libc.js";

/** EtherType of IEC 61850-9-2 Sampled Values. */
export const ETH_P_SV = 0x88ba;
/** Every protocol (for generic receivers). */
export const ETH_P_ALL = 0x0003;
/** sll_pkttype of frames this host sent. */
export const PACKET_OUTGOING = 4;
/** tpacket_auxdata.tp_status bits */
const TP_STATUS_VLAN_VALID = 0x10;
const TP_STATUS_VLAN_TPID_VALID = 0x40;

export interface PacketSocketOptions {
  /** interface name in the (possibly entered) network namespace */
  iface: string;
  /** enter this named network namespace (/run/netns/NAME) in the calling thread first */
  netns?: string;
  /** EtherType to bind (host order); default 0x88BA. With a VLAN tag the kernel still matches the inner type. */
  protocol?: number;
  /** receive buffer size in bytes (SO_RCVBUFFORCE, falling back to SO_RCVBUF); default 32 MiB */
  rcvbuf?: number;
  /** send buffer size in bytes; default kernel default */
  sndbuf?: number;
  /** blocking recv timeout in ms (so a loop can check a stop flag); default 100 */
  recvTimeoutMs?: number;
  /** largest frame to receive; default 2048 */
  maxFrame?: number;
  /**
   * With protocol ETH_P_ALL: attach a classic BPF filter that keeps only SV frames (EtherType 0x88BA, also
   * behind an in-band 802.1Q tag). Receivers that need the VLAN must bind ETH_P_ALL: for a socket bound to
   * 0x88BA the kernel clears a stripped tag (no VLAN device for it) before delivery, so auxdata loses it.
   */
  svFilter?: boolean;
  /**
   * Open the interface's multicast filter for as long as this socket lives (PACKET_ADD_MEMBERSHIP with
   * PACKET_MR_ALLMULTI; the kernel drops the membership when the socket closes). SV destinations are multicast
   * (01:0c:cd:04:xx:xx): real NICs and QEMU's virtio-net drop multicast nobody asked for, veth does not.
   */
  allMulticast?: boolean;
}

/** One received frame. `data` is a view into a reused buffer: valid until the next `recv()`. */
export interface ReceivedFrame {
  data: Uint8Array;
  /** kernel receive time, CLOCK_REALTIME ns (0n when the kernel gave none) */
  tsNs: bigint;
  /** 802.1Q TCI the kernel stripped (and that was reinserted into `data`), if any */
  vlanTci?: number;
  /** bytes the frame had on the wire (may exceed data.length if truncated) */
  origLen: number;
}

/** Thrown for problems the user can fix (unknown interface, no permission). */
export class PacketSocketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PacketSocketError";
  }
}

/** errno values a packet socket gets when its interface is set down (ENETDOWN) or removed (ENXIO, ENODEV). */
const GONE_ERRNOS: Record<number, string> = { 100: "ENETDOWN", 6: "ENXIO", 19: "ENODEV" };

/** True when `errnum` says the socket's interface went down or away (not a transient error such as ENOBUFS). */
export function isInterfaceGone(errnum: number): boolean {
  return errnum in GONE_ERRNOS;
}

/** The one-line message for an interface that went away mid-run (`errText` as lastError() gives it). */
export function interfaceGoneMessage(
  iface: string,
  netns: string | undefined,
  errnum: number,
  errText: string,
): string {
  const where = netns ? `${iface} (netns ${netns})` : iface;
  const text = errText.replace(/ \(errno \d+\)$/, "");
  return (
    `${where} went away (${text}, ${GONE_ERRNOS[errnum] ?? `errno ${errnum}`}): the interface was removed or set ` +
    "down, e.g. by `svtrace lab down`"
  );
}

/** recv() on an interface that went down or away; the message is interfaceGoneMessage's. */
export class InterfaceGoneError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InterfaceGoneError";
  }
}

const MSGHDR_SIZE = 56;
const IOVEC_SIZE = 16;
const SOCKADDR_LL_SIZE = 20;
const CONTROL_SIZE = 256;

const SO_ATTACH_FILTER = 26;
const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_MR_ALLMULTI = 2;

/** Classic BPF: accept EtherType 0x88BA at [12], or 0x8100 at [12] with 0x88BA at [16]; drop the rest. */
function svFilterProgram(): Buffer {
  const ins: [number, number, number, number][] = [
    [0x28, 0, 0, 12], // ldh [12]
    [0x15, 3, 0, 0x88ba], // jeq #0x88ba -> accept
    [0x15, 0, 3, 0x8100], // jeq #0x8100 ? next : drop
    [0x28, 0, 0, 16], // ldh [16]
    [0x15, 0, 1, 0x88ba], // jeq #0x88ba ? accept : drop
    [0x06, 0, 0, 0x40000], // ret #262144 (accept)
    [0x06, 0, 0, 0], // ret #0 (drop)
  ];
  const b = fixedBuffer(ins.length * 8);
  ins.forEach(([code, jt, jf, k], i) => {
    b.writeUInt16LE(code, i * 8);
    b[i * 8 + 2] = jt;
    b[i * 8 + 3] = jf;
    b.writeUInt32LE(k, i * 8 + 4);
  });
  return b;
}

/** Look up an interface index in the current network namespace; 0 if it does not exist. */
export function interfaceIndex(iface: string): number {
  return if_nametoindex(iface);
}

function setInt(fd: number, level: number, name: number, value: number): number {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  return setsockopt(fd, level, name, b, 4);
}

function fixedBuffer(size: number): Buffer {
  // a dedicated ArrayBuffer (not Node's shared pool) so koffi.address() is the start of our bytes
  return Buffer.from(new ArrayBuffer(size));
}

export class PacketSocket {
  readonly fd: number;
  readonly ifindex: number;
  readonly iface: string;
  readonly netns: string | undefined;
  private readonly frame: Buffer;
  private readonly msg: Buffer;
  private readonly iov: Buffer;
  private readonly name: Buffer;
  private readonly control: Buffer;
  private readonly out: Buffer;
  private readonly frameU8: Uint8Array;
  private readonly outU8: Uint8Array;
  private readonly maxFrame: number;
  private closed = false;

  constructor(opts: PacketSocketOptions) {
    this.netns = opts.netns;
    if (opts.netns) {
      try {
        enterNetns(opts.netns);
      } catch (e) {
        const msg = (e as Error).message;
        throw new PacketSocketError(
          /not permitted/i.test(msg)
            ? `${msg}; entering a namespace needs root (CAP_SYS_ADMIN)`
            : `${msg}; check the name with \`ip netns list\``,
        );
      }
    }
    this.iface = opts.iface;
    const protocol = opts.protocol ?? ETH_P_SV;
    this.ifindex = if_nametoindex(opts.iface);
    if (this.ifindex === 0)
      throw new PacketSocketError(
        `unknown interface ${opts.iface}${opts.netns ? ` in network namespace ${opts.netns}` : ""}; check \`ip${opts.netns ? ` -n ${opts.netns}` : ""} link\``,
      );
    const fd = socket(AF_PACKET, SOCK_RAW, htons(protocol));
    if (fd < 0)
      throw new PacketSocketError(
        `cannot open an AF_PACKET socket: ${lastError()}; run as root (or with CAP_NET_RAW)`,
      );
    this.fd = fd;
    const addr = {
      sll_family: AF_PACKET,
      sll_protocol: htons(protocol),
      sll_ifindex: this.ifindex,
      sll_hatype: 0,
      sll_pkttype: 0,
      sll_halen: 0,
      sll_addr: [0, 0, 0, 0, 0, 0, 0, 0],
    };
    if (bind(fd, addr, SOCKADDR_LL_SIZE) < 0) {
      const err = lastError();
      close(fd);
      throw new PacketSocketError(`cannot bind to ${opts.iface}: ${err}`);
    }
    if (opts.svFilter) {
      const prog = svFilterProgram();
      const fprog = Buffer.alloc(16); // struct sock_fprog { u16 len; struct sock_filter *filter; }
      fprog.writeUInt16LE(prog.length / 8, 0);
      fprog.writeBigUInt64LE(koffi.address(prog), 8);
      if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, fprog, 16) < 0) {
        const err = lastError();
        close(fd);
        throw new PacketSocketError(`cannot attach the SV socket filter on ${opts.iface}: ${err}`);
      }
    }
    if (opts.allMulticast) {
      // struct packet_mreq { int mr_ifindex; unsigned short mr_type, mr_alen; unsigned char mr_address[8]; }
      const mreq = Buffer.alloc(16);
      mreq.writeInt32LE(this.ifindex, 0);
      mreq.writeUInt16LE(PACKET_MR_ALLMULTI, 4);
      if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, 16) < 0) {
        const err = lastError();
        close(fd);
        throw new PacketSocketError(`cannot open the multicast filter of ${opts.iface}: ${err}`);
      }
    }
    const rcvbuf = opts.rcvbuf ?? 32 * 1024 * 1024;
    if (setInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf) < 0) setInt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf);
    if (opts.sndbuf && setInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, opts.sndbuf) < 0)
      setInt(fd, SOL_SOCKET, SO_SNDBUF, opts.sndbuf);
    setInt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
    setInt(fd, SOL_PACKET, PACKET_AUXDATA, 1);
    setInt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1); // kernel >= 4.20; sll_pkttype check below otherwise
    const tmo = opts.recvTimeoutMs ?? 100;
    const tv = Buffer.alloc(16);
    tv.writeBigInt64LE(BigInt(Math.floor(tmo / 1000)), 0);
    tv.writeBigInt64LE(BigInt((tmo % 1000) * 1000), 8);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16);

    this.maxFrame = opts.maxFrame ?? 2048;
    // 4 bytes of headroom in front so a stripped VLAN tag can be reinserted without copying the payload twice
    this.frame = fixedBuffer(this.maxFrame + 4);
    this.out = fixedBuffer(this.maxFrame + 4);
    // frames are handed out as plain Uint8Array views (not Buffers): Buffer#slice does not copy, and consumers
    // that keep `data.slice(...)` (e.g. decoder caches) must get a copy, not a view of this reused buffer
    this.frameU8 = new Uint8Array(this.frame.buffer, this.frame.byteOffset, this.frame.length);
    this.outU8 = new Uint8Array(this.out.buffer, this.out.byteOffset, this.out.length);
    this.msg = fixedBuffer(MSGHDR_SIZE);
    this.iov = fixedBuffer(IOVEC_SIZE);
    this.name = fixedBuffer(SOCKADDR_LL_SIZE);
    this.control = fixedBuffer(CONTROL_SIZE);
    this.iov.writeBigUInt64LE(koffi.address(this.frame), 0);
    this.iov.writeBigUInt64LE(BigInt(this.maxFrame), 8);
    // the pointers in the msghdr never change (fixed Buffers); lengths are reset before each call
    this.msg.writeBigUInt64LE(koffi.address(this.name), 0);
    this.msg.writeBigUInt64LE(koffi.address(this.iov), 16);
    this.msg.writeBigUInt64LE(1n, 24);
    this.msg.writeBigUInt64LE(koffi.address(this.control), 32);
  }

  /** Send one frame; returns false (and the errno in `lastSendErrno`, its text in `lastSendError`) on failure. */
  send(frame: Uint8Array): boolean {
    const n = send(this.fd, frame, frame.length, 0);
    if (n < 0) {
      this.noteSendError();
      return false;
    }
    return true;
  }

  lastSendError = "";
  lastSendErrno = 0;

  /** Keep errno of the send that just failed (see isInterfaceGone) and its text. */
  noteSendError(): void {
    this.lastSendErrno = errno();
    this.lastSendError = lastError();
  }

  /** The interface-went-away message when the last failed send says so, else undefined. */
  sendGoneMessage(): string | undefined {
    if (!isInterfaceGone(this.lastSendErrno)) return undefined;
    return interfaceGoneMessage(this.iface, this.netns, this.lastSendErrno, this.lastSendError);
  }

  /**
   * Wait (up to the recv timeout) for one frame. Returns undefined on timeout or EINTR (or, with
   * `nonBlocking`, when nothing is queued). Frames this host sent on the interface are skipped.
   */
  recv(nonBlocking = false): ReceivedFrame | undefined {
    const msg = this.msg;
    for (;;) {
      // the kernel updates msg_namelen/msg_controllen/msg_flags: reset them each time
      msg.writeUInt32LE(SOCKADDR_LL_SIZE, 8);
      msg.writeUInt32LE(CONTROL_SIZE, 40);
      msg.writeUInt32LE(0, 44);
      msg.writeInt32LE(0, 48);
      const n = recvmsg(this.fd, msg, nonBlocking ? MSG_DONTWAIT : 0);
      if (n < 0) {
        const e = errno();
        if (e === EAGAIN || e === EINTR) return undefined;
        if (isInterfaceGone(e))
          throw new InterfaceGoneError(interfaceGoneMessage(this.iface, this.netns, e, lastError()));
        throw new Error(`recvmsg on ${this.iface} failed: ${lastError()}`);
      }
      const pkttype = this.name[10] ?? 0;
      if (pkttype === PACKET_OUTGOING) continue;
      return this.parse(n);
    }
  }

  private parse(n: number): ReceivedFrame {
    const msg = this.msg;
    const controllen = msg.readUInt32LE(40);
    const c = this.control;
    let tsNs = 0n;
    let vlanTci: number | undefined;
    let vlanTpid = 0x8100;
    let origLen = n;
    let off = 0;
    // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; data... } aligned to 8
    while (off + 16 <= controllen) {
      const len = Number(c.readBigUInt64LE(off));
      if (len < 16) break;
      const level = c.readInt32LE(off + 8);
      const type = c.readInt32LE(off + 12);
      if (level === SOL_SOCKET && type === SO_TIMESTAMPNS) {
        tsNs = c.readBigInt64LE(off + 16) * 1_000_000_000n + c.readBigInt64LE(off + 24);
      } else if (level === SOL_PACKET && type === PACKET_AUXDATA) {
        // struct tpacket_auxdata { u32 status, len, snaplen; u16 mac, net, vlan_tci, vlan_tpid; }
        const status = c.readUInt32LE(off + 16);
        origLen = c.readUInt32LE(off + 20);
        if (status & TP_STATUS_VLAN_VALID) {
          vlanTci = c.readUInt16LE(off + 16 + 16);
          if (status & TP_STATUS_VLAN_TPID_VALID) vlanTpid = c.readUInt16LE(off + 16 + 18);
        }
      }
      off += (len + 7) & ~7;
    }
    const len = Math.min(n, this.maxFrame);
    if (vlanTci === undefined || len < 12) {
      return { data: this.frameU8.subarray(0, len), tsNs, origLen };
    }
    // reinsert the tag after the MAC addresses: dst(6) src(6) TPID TCI type...
    const out = this.out;
    this.frame.copy(out, 0, 0, 12);
    out.writeUInt16BE(vlanTpid, 12);
    out.writeUInt16BE(vlanTci, 14);
    this.frame.copy(out, 16, 12, len);
    return { data: this.outU8.subarray(0, len + 4), tsNs, vlanTci, origLen: origLen + 4 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.fd);
  }
}

const MMSGHDR_SIZE = 64;

/**
 * A fixed set of frames sent together with one sendmmsg() call (one syscall and one FFI call per burst instead
 * of one per frame). Each frame lives in its own fixed Buffer (`buffers[i]`) whose address is in the mmsghdr
 * array: patch those Buffers in place between sends; their length never changes.
 */
export class SendBatch {
  readonly buffers: Buffer[];
  private readonly vec: Buffer;
  private readonly iovs: Buffer;

  constructor(frames: Uint8Array[]) {
    this.buffers = frames.map((f) => {
      const b = fixedBuffer(f.length);
      b.set(f);
      return b;
    });
    const n = frames.length;
    this.iovs = fixedBuffer(n * IOVEC_SIZE);
    this.vec = fixedBuffer(n * MMSGHDR_SIZE);
    const iovBase = koffi.address(this.iovs);
    for (let i = 0; i < n; i++) {
      this.iovs.writeBigUInt64LE(koffi.address(this.buffers[i]), i * IOVEC_SIZE);
      this.iovs.writeBigUInt64LE(BigInt(this.buffers[i].length), i * IOVEC_SIZE + 8);
      const m = i * MMSGHDR_SIZE; // struct mmsghdr { struct msghdr msg_hdr; unsigned msg_len; }
      this.vec.writeBigUInt64LE(iovBase + BigInt(i * IOVEC_SIZE), m + 16); // msg_iov
      this.vec.writeBigUInt64LE(1n, m + 24); // msg_iovlen
    }
  }

  /**
   * Send every frame of the batch on `sock`. Returns how many were sent; a frame the kernel refused is skipped
   * (counted by the caller from the return value) and the error text kept in `sock.lastSendError`.
   */
  send(sock: PacketSocket): number {
    const n = this.buffers.length;
    let done = 0;
    let sent = 0;
    while (done < n) {
      const view = done === 0 ? this.vec : this.vec.subarray(done * MMSGHDR_SIZE);
      const r = sendmmsg(sock.fd, view, n - done, 0);
      if (r < 0) {
        sock.noteSendError();
        if (isInterfaceGone(sock.lastSendErrno)) break; // every further frame would fail the same way
        done++; // drop the frame that failed, go on with the rest
      } else {
        sent += r;
        done += r;
        if (r === 0) break;
      }
    }
    return sent;
  }
}
