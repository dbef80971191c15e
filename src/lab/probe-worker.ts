/**
 * Worker thread for `probeLab`: opens a receiving AF_PACKET socket on the VM NIC (inside the VM namespace)
 * and a sending one on the publisher NIC (inside the publisher namespace), sends numbered probe SV frames,
 * then counts what arrives. Sockets keep the namespace they were made in, so one thread can hold both.
 */
import { parentPort, workerData } from "node:worker_threads";
import {
  AF_PACKET,
  bind,
  close,
  enterNetns,
  htons,
  if_nametoindex,
  lastError,
  MSG_DONTWAIT,
  POLLIN,
  poll,
  recv,
  SO_RCVBUFFORCE,
  SOCK_RAW,
  SOL_SOCKET,
  send,
  setsockopt,
  socket,
} from "../net/libc.js";

export interface ProbeWorkerData {
  pubNs: string;
  pubIf: string;
  vmNs: string;
  vmIf: string;
  count: number;
  intervalUs: number;
  /** wait this long after the last frame for stragglers */
  settleMs: number;
  vlan: number | null;
  /** EtherType of the probe frames (0x88BA for SV; another value checks that a switch drops non-SV) */
  etherType: number;
  marker: string;
}

export interface ProbeWorkerResult {
  sent: number;
  received: number;
  duplicates: number;
  /** frames seen on the VM NIC that were not probe frames (chatter) */
  otherFrames: number;
  error?: string;
}

const ETH_P_ALL = 0x0003;
const ETH_P_SV = 0x88ba;

function packetSocket(ns: string, ifname: string, proto: number): number {
  enterNetns(ns);
  const ifindex = if_nametoindex(ifname);
  if (ifindex === 0) throw new Error(`interface ${ifname} not found in ${ns}`);
  const fd = socket(AF_PACKET, SOCK_RAW, htons(proto));
  if (fd < 0) throw new Error(`AF_PACKET socket: ${lastError()}`);
  const addr = {
    sll_family: AF_PACKET,
    sll_protocol: htons(proto),
    sll_ifindex: ifindex,
    sll_hatype: 0,
    sll_pkttype: 0,
    sll_halen: 0,
    sll_addr: [0, 0, 0, 0, 0, 0, 0, 0],
  };
  if (bind(fd, addr, 20) < 0) throw new Error(`bind ${ifname} in ${ns}: ${lastError()}`);
  return fd;
}

/**
 * A small, well-formed 9-2 frame: one ASDU whose svID is the marker; smpCnt (mod 65536) and confRev (full 32 bits)
 * carry the probe's sequence number.
 */
export function probeFrame(marker: string, seq: number, vlan: number | null, etherType = ETH_P_SV): Buffer {
  const svid = Buffer.from(marker, "ascii");
  const asduBody = Buffer.concat([
    Buffer.from([0x80, svid.length]),
    svid,
    Buffer.from([0x82, 0x02, (seq >> 8) & 0xff, seq & 0xff]),
    Buffer.from([0x83, 0x04, (seq >>> 24) & 0xff, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff]),
    Buffer.from([0x85, 0x01, 0x00]),
    Buffer.from([0x87, 0x08, 0, 0, 0, 0, 0, 0, 0, 0]),
  ]);
  const asdu = Buffer.concat([Buffer.from([0x30, asduBody.length]), asduBody]);
  const seqAsdu = Buffer.concat([Buffer.from([0xa2, asdu.length]), asdu]);
  const pduBody = Buffer.concat([Buffer.from([0x80, 0x01, 0x01]), seqAsdu]);
  const pdu = Buffer.concat([Buffer.from([0x60, pduBody.length]), pduBody]);
  const svHeader = Buffer.alloc(8);
  svHeader.writeUInt16BE(0x4000, 0);
  svHeader.writeUInt16BE(8 + pdu.length, 2);
  const macs = Buffer.from([0x01, 0x0c, 0xcd, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
  const tag =
    vlan === null ? Buffer.alloc(0) : Buffer.from([0x81, 0x00, 0x80 | ((vlan >> 8) & 0x0f), vlan & 0xff]);
  return Buffer.concat([macs, tag, Buffer.from([etherType >> 8, etherType & 0xff]), svHeader, pdu]);
}

function busyWaitUntil(ns: bigint): void {
  const sab = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const left = ns - process.hrtime.bigint();
    if (left <= 0n) return;
    if (left > 2_000_000n) Atomics.wait(sab, 0, 0, Number(left / 1_000_000n) - 1);
  }
}

function main(d: ProbeWorkerData): ProbeWorkerResult {
  const res: ProbeWorkerResult = { sent: 0, received: 0, duplicates: 0, otherFrames: 0 };
  const rx = packetSocket(d.vmNs, d.vmIf, ETH_P_ALL);
  // room for bursts while this thread is busy sending: OVS outputs in batches, and a forwarder back from a
  // 250 ms stall (lab-tap test) writes 8000 queued frames at once; each costs its skb's truesize (about 1 KiB)
  // here, so 8 MiB held about 8000 and a CI run lost 1056 of them
  const size = Buffer.alloc(4);
  size.writeInt32LE(32 * 1024 * 1024);
  setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, size, 4);
  const tx = packetSocket(d.pubNs, d.pubIf, d.etherType);
  try {
    const marker = Buffer.from(d.marker, "ascii");
    const seen = new Set<number>();
    const buf = Buffer.alloc(65536);
    const drain = (): void => {
      for (;;) {
        const n = recv(rx, buf, buf.length, MSG_DONTWAIT);
        if (n <= 0) return;
        const frame = buf.subarray(0, n);
        const at = frame.indexOf(marker);
        if (at < 0) {
          res.otherFrames++;
          continue;
        }
        const seq = frame.readUInt32BE(at + marker.length + 6); // confRev
        if (seen.has(seq)) res.duplicates++;
        else seen.add(seq);
        res.received = seen.size;
      }
    };
    const start = process.hrtime.bigint();
    for (let i = 0; i < d.count; i++) {
      busyWaitUntil(start + BigInt(Math.round(i * d.intervalUs * 1000)));
      const f = probeFrame(d.marker, i, d.vlan, d.etherType);
      if (send(tx, f, f.length, 0) === f.length) res.sent++;
      drain();
    }
    const deadline = Date.now() + d.settleMs;
    const pfd = { fd: rx, events: POLLIN, revents: 0 };
    while (Date.now() < deadline && (res.received < res.sent || d.count === 0)) {
      poll(pfd, 1, Math.max(1, deadline - Date.now()));
      drain();
    }
    drain();
    return res;
  } finally {
    close(rx);
    close(tx);
  }
}

try {
  parentPort?.postMessage(main(workerData as ProbeWorkerData));
} catch (e) {
  parentPort?.postMessage({
    sent: 0,
    received: 0,
    duplicates: 0,
    otherFrames: 0,
    error: (e as Error).message,
  } satisfies ProbeWorkerResult);
}
