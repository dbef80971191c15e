/**
 * The packet sockets through which the lab's ovs-vswitchd (userspace `netdev` datapath) reads and writes
 * hyp-in and hyp-out, their receive buffers and what they dropped.
 *
 * OVS opens them with the kernel's default receive buffer (net.core.rmem_default, 208 KiB, not settable inside
 * a namespace): about 270 SV frames, 8 ms of 8 streams. When the 2-vCPU lab machine deschedules the daemon for
 * longer, the socket drops what does not fit: 1-5 % of SVs at 8 streams (seen on this project's VM), lost
 * before the switch even sees them, which says more about the stand-in than about OVS. So `lab up` gives
 * each of these sockets an 8 MiB buffer (SO_RCVBUFFORCE on a copy of the daemon's descriptor taken with
 * pidfd_getfd: the same socket), and `lab status` shows each socket's buffer and drops (`ss -m`'s `rb`, `d`).
 */
import { close, copyFdOf, lastError, SO_RCVBUFFORCE, SOL_SOCKET, setsockopt } from "../net/libc.js";
import { runIn, sleep } from "./exec.js";

/** receive buffer asked for each OVS packet socket (the kernel doubles it for its bookkeeping) */
export const OVS_SOCKET_RCVBUF = 8 << 20;

/** One packet socket of ovs-vswitchd, as `ss` reports it. */
export interface OvsSocket {
  /** the interface it is bound to */
  device: string;
  pid: number;
  fd: number;
  /** receive buffer, bytes (ss's rb) */
  rcvbuf: number;
  /** frames the kernel dropped because the buffer was full (ss's d) */
  drops: number;
}

// p_raw UNCONN 0 0 *:hyp-in * users:(("ovs-vswitchd",pid=12785,fd=41)) skmem:(r0,rb212992,...,bl0,d7753)
const SS_LINE = /\*:(\S+)\s.*users:\(\("ovs-vswitchd",pid=(\d+),fd=(\d+)\)\).*skmem:\(([^)]*)\)/;

/** Parse `ss -f link -m -p -a -H` output: the ovs-vswitchd sockets bound to an interface. */
export function parseOvsSockets(ssOutput: string): OvsSocket[] {
  const out: OvsSocket[] = [];
  for (const line of ssOutput.split("\n")) {
    const m = SS_LINE.exec(line);
    if (!m) continue;
    const mem = new Map<string, number>();
    for (const f of (m[4] as string).split(",")) {
      const k = /^([a-z]+)(\d+)$/.exec(f);
      if (k) mem.set(k[1] as string, Number(k[2]));
    }
    out.push({
      device: m[1] as string,
      pid: Number(m[2]),
      fd: Number(m[3]),
      rcvbuf: mem.get("rb") ?? 0,
      drops: mem.get("d") ?? 0,
    });
  }
  return out;
}

/** ovs-vswitchd's packet sockets in namespace `ns`. */
export async function ovsSockets(ns: string): Promise<OvsSocket[]> {
  return parseOvsSockets(await runIn(ns, "ss", ["-f", "link", "-m", "-p", "-a", "-H"]));
}

/**
 * Once ovs-vswitchd has opened its sockets on `devices` (within 10 s), give each an OVS_SOCKET_RCVBUF receive
 * buffer. Returns why it could not, or null.
 */
export async function enlargeOvsReceiveBuffers(ns: string, devices: string[]): Promise<string | null> {
  let socks: OvsSocket[] = [];
  for (let i = 0; i < 500; i++) {
    try {
      socks = (await ovsSockets(ns)).filter((s) => devices.includes(s.device));
    } catch (e) {
      return `cannot list ovs-vswitchd's sockets with ss: ${(e as Error).message}`;
    }
    if (devices.every((d) => socks.some((s) => s.device === d))) break;
    await sleep(20);
  }
  const missing = devices.filter((d) => !socks.some((s) => s.device === d));
  if (missing.length > 0) return `ovs-vswitchd opened no packet socket on ${missing.join(", ")} within 10 s`;
  const size = Buffer.alloc(4);
  size.writeInt32LE(OVS_SOCKET_RCVBUF);
  for (const s of socks) {
    const fd = copyFdOf(s.pid, s.fd);
    if (fd < 0) return `cannot take ovs-vswitchd's socket on ${s.device} (pidfd_getfd): ${lastError()}`;
    const r = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4);
    const why = r < 0 ? `cannot enlarge the receive buffer of ${s.device}'s socket: ${lastError()}` : null;
    close(fd);
    if (why) return why;
  }
  return null;
}
