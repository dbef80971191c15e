/**
 * Host side of the guest agent's channel (see guest-agent.ts for the messages): QEMU listens on the lab's
 * agent.sock and passes bytes to the virtio-serial port. `pingGuest` asks the agent for its kernel release and
 * clock; `execInGuest` runs a command there and streams its output. One client at a time: while a client holds
 * the channel, QEMU does not accept another (its connection waits), so a busy marker file names the holder.
 */
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { constants } from "node:os";

export interface GuestPong {
  release: string;
  uptimeS: number;
  /** guest CLOCK_REALTIME (ms) when it answered */
  realtimeMs: number;
  /** host CLOCK_REALTIME (ms) halfway between the ping and the pong, and the round trip */
  hostMidMs: number;
  rttMs: number;
}

interface GuestMessage {
  t: "pong" | "clock" | "started" | "out" | "exit" | "error";
  n?: number;
  mono?: string;
  real?: string;
  s: string;
  release?: string;
  uptimeS?: number;
  realtimeMs?: number;
  fd?: 1 | 2;
  d?: string;
  code?: number | null;
  pid?: number;
  signal?: NodeJS.Signals | null;
  message?: string;
}

/** Busy marker: `<socket>.busy` holds the PID of the client using the channel. */
export function busyFile(socketPath: string): string {
  return `${socketPath}.busy`;
}

class Channel {
  readonly session = randomBytes(8).toString("hex");
  private pending = "";
  private constructor(
    private readonly sock: Socket,
    private readonly socketPath: string,
  ) {}

  static open(socketPath: string, timeoutMs: number): Promise<Channel> {
    return new Promise((resolve, reject) => {
      const sock = connect(socketPath);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`cannot connect to ${socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      sock.once("connect", () => {
        clearTimeout(timer);
        const ch = new Channel(sock, socketPath);
        writeFileSync(busyFile(socketPath), `${process.pid}\n`);
        ch.send({ t: "hello" });
        resolve(ch);
      });
    });
  }

  send(m: Record<string, unknown>): void {
    this.sock.write(`${JSON.stringify({ ...m, s: this.session })}\n`);
  }

  /** Call `on` for each message of this session until it returns true (resolve) or the socket ends (reject). */
  until(on: (m: GuestMessage) => boolean, timeoutMs?: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: Error) => {
        if (timer) clearTimeout(timer);
        this.sock.off("data", onData);
        this.sock.off("close", onClose);
        if (err) reject(err);
        else resolve();
      };
      const onData = (b: Buffer) => {
        this.pending += b.toString("utf8");
        let nl = this.pending.indexOf("\n");
        while (nl >= 0) {
          const line = this.pending.slice(0, nl);
          this.pending = this.pending.slice(nl + 1);
          nl = this.pending.indexOf("\n");
          let m: GuestMessage;
          try {
            m = JSON.parse(line) as GuestMessage;
          } catch {
            continue; // a partial line a previous client left behind
          }
          if (m.s !== this.session) continue;
          if (on(m)) return done();
        }
      };
      const onClose = () => done(new Error("the guest channel closed (QEMU stopped?)"));
      if (timeoutMs !== undefined)
        timer = setTimeout(
          () => done(new Error(`the guest agent did not answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
      this.sock.on("data", onData);
      this.sock.on("close", onClose);
    });
  }

  close(): void {
    rmSync(busyFile(this.socketPath), { force: true });
    this.sock.destroy();
  }
}

/** Ask the agent for its kernel release and clock; rejects if it does not answer in time. */
export async function pingGuest(socketPath: string, timeoutMs = 3000): Promise<GuestPong> {
  const ch = await Channel.open(socketPath, timeoutMs);
  try {
    const t0 = Date.now();
    const p0 = performance.now();
    let pong: GuestMessage | undefined;
    ch.send({ t: "ping" });
    await ch.until((m) => {
      if (m.t !== "pong") return false;
      pong = m;
      return true;
    }, timeoutMs);
    const rttMs = performance.now() - p0;
    return {
      release: pong?.release ?? "",
      uptimeS: pong?.uptimeS ?? 0,
      realtimeMs: pong?.realtimeMs ?? 0,
      hostMidMs: t0 + rttMs / 2,
      rttMs,
    };
  } finally {
    ch.close();
  }
}

/** One clock exchange's stamps: host monotonic at send and receive, guest monotonic and realtime (ns). */
export interface GuestClockStamp {
  hostSendNs: bigint;
  hostRecvNs: bigint;
  guestMonoNs: bigint;
  guestRealNs: bigint;
}

/** `n` clock exchanges, one after the other, on one connection to the agent. */
export async function guestClockExchanges(
  socketPath: string,
  n: number,
  timeoutMs = 10_000,
): Promise<GuestClockStamp[]> {
  const ch = await Channel.open(socketPath, timeoutMs);
  const out: GuestClockStamp[] = [];
  try {
    for (let i = 0; i < n; i++) {
      let m: GuestMessage | undefined;
      const wait = ch.until((x) => {
        if (x.t !== "clock" || x.n !== i) return false;
        m = x;
        return true;
      }, timeoutMs);
      const hostSendNs = process.hrtime.bigint();
      ch.send({ t: "clock", n: i });
      await wait;
      const hostRecvNs = process.hrtime.bigint();
      if (m?.mono === undefined || m.real === undefined) throw new Error("the guest agent answered no clock");
      out.push({ hostSendNs, hostRecvNs, guestMonoNs: BigInt(m.mono), guestRealNs: BigInt(m.real) });
    }
    return out;
  } finally {
    ch.close();
  }
}

export interface GuestExecOptions {
  argv: string[];
  cwd?: string;
  onStdout: (b: Buffer) => void;
  onStderr: (b: Buffer) => void;
  /** how long to wait for the agent to start the command (default 60 s) */
  startTimeoutMs?: number;
  /** run it in the background in the guest, stdout and stderr to this guest file (`pid` gets its pid) */
  detach?: string;
  onDetached?: (pid: number) => void;
  /** signals received by the caller are forwarded to the command in the guest */
  forwardSignals?: NodeJS.Signals[];
}

/** Run a command in the guest; resolves to its exit status (128 + signal number if it was killed). */
export async function execInGuest(socketPath: string, opts: GuestExecOptions): Promise<number> {
  const ch = await Channel.open(socketPath, 10_000);
  const handlers = (opts.forwardSignals ?? []).map((sig) => {
    const h = () => ch.send({ t: "kill", sig });
    process.on(sig, h);
    return [sig, h] as const;
  });
  try {
    let status = 0;
    let error: string | undefined;
    ch.send({ t: "exec", argv: opts.argv, cwd: opts.cwd ?? process.cwd(), detach: opts.detach });
    // the agent answers "started" (or "error") at once; waiting longer means another client holds the
    // channel or the agent is gone
    const startMs = opts.startTimeoutMs ?? 60_000;
    let notStarted: string | undefined;
    const timer = setTimeout(() => {
      notStarted = `the guest agent did not start the command within ${startMs / 1000} s (another lab exec holding the channel, or the agent is not running: see svtrace lab status)`;
      ch.close();
    }, startMs);
    await ch
      .until((m) => {
        clearTimeout(timer);
        if (m.t === "out" && m.d) (m.fd === 2 ? opts.onStderr : opts.onStdout)(Buffer.from(m.d, "base64"));
        if (m.t === "error") {
          error = m.message ?? "the guest agent could not run the command";
          return true;
        }
        if (m.t === "started" && opts.detach && m.pid !== undefined) opts.onDetached?.(m.pid);
        if (m.t !== "exit") return false;
        status = m.code ?? (m.signal ? 128 + signalNumber(m.signal) : 1);
        return true;
      })
      .catch((e: unknown) => {
        if (notStarted === undefined) throw e;
      });
    clearTimeout(timer);
    if (notStarted !== undefined) throw new Error(notStarted);
    if (error !== undefined) throw new GuestExecError(error);
    return status;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
    ch.close();
  }
}

/** The agent could not start the command (not found, not executable). */
export class GuestExecError extends Error {}

function signalNumber(sig: NodeJS.Signals): number {
  return constants.signals[sig] ?? 0;
}
