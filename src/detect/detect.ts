/**
 * `svtrace detect`: listen on an interface (optionally in a network namespace) with an AF_PACKET socket, wait up
 * to `timeoutS` for the first SV, then keep listening `listenS` seconds so rates and the smpCnt wrap can be
 * measured, and return the census of the streams seen. No tshark. Runs synchronously in the calling thread
 * (the receive loop blocks at most 100 ms per call; the thread enters the namespace, so call it from the CLI).
 */
import { fail } from "../errors.js";
import { ETH_P_ALL, PacketSocket, PacketSocketError } from "../net/afpacket.js";
import { type DetectedStream, StreamCensus } from "./census.js";

export interface DetectOptions {
  iface: string;
  netns?: string;
  /** seconds to wait for the first SV */
  timeoutS: number;
  /** seconds to keep listening after the first SV */
  listenS: number;
}

export interface DetectResult {
  iface: string;
  netns: string | null;
  /** seconds spent listening after the first SV */
  listened_s: number;
  sv_frames: number;
  undecodable: number;
  streams: DetectedStream[];
}

export function detectStreams(opts: DetectOptions): DetectResult {
  let sock: PacketSocket;
  try {
    // ETH_P_ALL, not 0x88BA: the kernel clears a VLAN tag with a VID it has no VLAN device for before it hands
    // the frame to protocol sockets, so only an all-protocol socket still sees the tag (in its auxdata)
    sock = new PacketSocket({
      iface: opts.iface,
      netns: opts.netns,
      recvTimeoutMs: 100,
      protocol: ETH_P_ALL,
      allMulticast: true, // SVs are multicast: a real NIC or virtio-net drops them otherwise
    });
  } catch (e) {
    if (e instanceof PacketSocketError) fail(e.message);
    throw e;
  }
  const census = new StreamCensus();
  const start = performance.now();
  let firstAt = -1;
  try {
    for (;;) {
      const now = performance.now();
      if (firstAt < 0 && now - start > opts.timeoutS * 1000) break;
      if (firstAt >= 0 && now - firstAt > opts.listenS * 1000) break;
      const f = sock.recv();
      if (!f) continue;
      const ts = f.tsNs > 0n ? f.tsNs : BigInt(Date.now()) * 1_000_000n;
      if (census.addRaw(f.data, "ethernet", ts) && firstAt < 0) firstAt = performance.now();
    }
  } finally {
    sock.close();
  }
  if (census.svFrames === 0 && census.undecodable === 0)
    fail(
      `no SV seen on ${opts.iface}${opts.netns ? ` (netns ${opts.netns})` : ""} within ${opts.timeoutS} s; check the interface and that a publisher is sending (or raise --timeout)`,
    );
  return {
    iface: opts.iface,
    netns: opts.netns ?? null,
    listened_s: firstAt < 0 ? 0 : Math.round((performance.now() - firstAt) / 100) / 10,
    sv_frames: census.svFrames,
    undecodable: census.undecodable,
    streams: census.streams(),
  };
}
