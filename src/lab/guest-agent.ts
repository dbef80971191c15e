/**
 * The qemu lab's guest agent: runs inside the guest (started by the initramfs' init with the host's node, read over
 * 9p), speaks JSON lines over the virtio-serial port named by --port, and runs commands for `svtrace lab exec`
 * (argument arrays, no shell), streaming their stdout/stderr and exit status back. Node built-ins only.
 *
 * Host -> guest: {"t":"hello","s":SESSION} {"t":"ping","s"} {"t":"clock","s","n"} {"t":"exec","s","argv":[..],"cwd"} {"t":"kill","s","sig"}
 * Guest -> host: {"t":"pong","s","release","uptimeS","realtimeMs"} {"t":"clock","s","n","mono","real"} (ns as strings) {"t":"started","s","pid"} {"t":"out","s","fd":1|2,"d":BASE64}
 *                {"t":"exit","s","code","signal"} {"t":"error","s","message"}
 * Every message carries the session, so output a previous client left unread is ignored by the next one. A new
 * hello kills the commands of older sessions (their client is gone: one client at a time uses the channel).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, open, openSync, read, readdirSync, readFileSync, write } from "node:fs";
import { release, uptime } from "node:os";

interface HostMessage {
  t: "hello" | "ping" | "clock" | "exec" | "kill";
  n?: number;
  s: string;
  argv?: string[];
  cwd?: string;
  /** run in the background, stdout and stderr to this file; answered at once with its pid */
  detach?: string;
  sig?: NodeJS.Signals;
}

/** /dev/vportNpM whose /sys/class/virtio-ports/<entry>/name is `name`. */
function findPort(name: string): string | undefined {
  const base = "/sys/class/virtio-ports";
  if (!existsSync(base)) return undefined;
  for (const e of readdirSync(base)) {
    try {
      if (readFileSync(`${base}/${e}/name`, "utf8").trim() === name) return `/dev/${e}`;
    } catch {
      // not a named port
    }
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const i = process.argv.indexOf("--port");
  const portName = i > 0 ? process.argv[i + 1] : undefined;
  if (!portName) throw new Error("usage: guest-agent --port NAME");
  let path: string | undefined;
  for (let k = 0; k < 100 && !path; k++) {
    path = findPort(portName);
    if (!path) await sleep(100);
  }
  if (!path) throw new Error(`no virtio-serial port named ${portName}`);
  const fd = await new Promise<number>((res, rej) => open(path, "r+", (e, f) => (e ? rej(e) : res(f))));
  process.stdout.write(`svtrace-agent: listening on ${path} (${portName})\n`);

  // writes are queued and done one at a time (a write blocks while no host client is connected)
  const queue: Buffer[] = [];
  let writing = false;
  const flush = () => {
    if (writing) return;
    const buf = queue.shift();
    if (!buf) return;
    writing = true;
    const step = (b: Buffer) =>
      write(fd, b, 0, b.length, null, (err, n) => {
        if (!err && n < b.length) return step(b.subarray(n));
        writing = false;
        flush();
      });
    step(buf);
  };
  const send = (m: object) => {
    queue.push(Buffer.from(`${JSON.stringify(m)}\n`));
    flush();
  };

  const children = new Map<string, Set<ChildProcess>>();
  const handle = (m: HostMessage) => {
    if (m.t === "hello") {
      for (const [s, set] of children) if (s !== m.s) for (const c of set) c.kill("SIGKILL");
      return;
    }
    if (m.t === "ping") {
      send({ t: "pong", s: m.s, release: release(), uptimeS: uptime(), realtimeMs: Date.now() });
      return;
    }
    if (m.t === "clock") {
      // answered at once, before anything queued: CLOCK_MONOTONIC (libuv's hrtime) and CLOCK_REALTIME
      const mono = process.hrtime.bigint();
      const real = BigInt(Date.now()) * 1_000_000n;
      send({ t: "clock", s: m.s, n: m.n, mono: String(mono), real: String(real) });
      return;
    }
    if (m.t === "kill") {
      for (const c of children.get(m.s) ?? []) c.kill(m.sig ?? "SIGTERM");
      return;
    }
    if (m.t === "exec") {
      const argv = m.argv ?? [];
      if (argv.length === 0 || typeof argv[0] !== "string") {
        send({ t: "error", s: m.s, message: "no command given" });
        return;
      }
      const cwd = m.cwd && existsSync(m.cwd) ? m.cwd : "/";
      if (m.detach) {
        let out: number;
        try {
          out = openSync(m.detach, "a");
        } catch (e) {
          send({
            t: "error",
            s: m.s,
            message: `cannot open ${m.detach} in the guest: ${(e as Error).message}`,
          });
          return;
        }
        const bg = spawn(argv[0], argv.slice(1), { cwd, stdio: ["ignore", out, out], detached: true });
        closeSync(out);
        bg.on("error", () => {});
        bg.unref();
        if (bg.pid === undefined) send({ t: "error", s: m.s, message: `cannot run ${argv[0]} in the guest` });
        else {
          send({ t: "started", s: m.s, pid: bg.pid });
          send({ t: "exit", s: m.s, code: 0, signal: null, pid: bg.pid });
        }
        return;
      }
      const child = spawn(argv[0], argv.slice(1), { cwd, stdio: ["ignore", "pipe", "pipe"] });
      const set = children.get(m.s) ?? new Set();
      children.set(m.s, set);
      set.add(child);
      if (child.pid !== undefined) send({ t: "started", s: m.s, pid: child.pid });
      child.stdout?.on("data", (d: Buffer) => send({ t: "out", s: m.s, fd: 1, d: d.toString("base64") }));
      child.stderr?.on("data", (d: Buffer) => send({ t: "out", s: m.s, fd: 2, d: d.toString("base64") }));
      child.on("error", (e) => {
        set.delete(child);
        send({ t: "error", s: m.s, message: `cannot run ${argv[0]} in the guest: ${e.message}` });
      });
      child.on("close", (code, signal) => {
        set.delete(child);
        send({ t: "exit", s: m.s, code, signal });
      });
    }
  };

  // read forever; a read of 0 bytes means no host client is connected: wait and read again
  let pending = "";
  const chunk = Buffer.alloc(65536);
  for (;;) {
    const n = await new Promise<number>((res) =>
      read(fd, chunk, 0, chunk.length, null, (err, got) => res(err ? -1 : got)),
    );
    if (n <= 0) {
      pending = "";
      await sleep(50);
      continue;
    }
    pending += chunk.subarray(0, n).toString("utf8");
    let nl = pending.indexOf("\n");
    while (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      nl = pending.indexOf("\n");
      if (!line.trim()) continue;
      try {
        handle(JSON.parse(line) as HostMessage);
      } catch (e) {
        process.stdout.write(`svtrace-agent: bad message: ${(e as Error).message}\n`);
      }
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`svtrace-agent: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
