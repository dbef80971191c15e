/**
 * `lab exec`: run a command on the lab's VM side and pass its stdout, stderr and exit status through. In a qemu
 * lab it runs in the guest through the agent's virtio-serial channel; in the other modes it runs in the VM
 * namespace (`ip netns exec`, no shell), so one command line works for both.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { fail } from "../errors.js";
import { execInGuest, GuestExecError } from "./guest-channel.js";
import { labNames } from "./names.js";
import { requireRoot } from "./preflight.js";
import { isAlive } from "./processes.js";
import { readState } from "./state.js";

export interface LabExecOptions {
  argv: string[];
  prefix?: string;
  onStdout?: (b: Buffer) => void;
  onStderr?: (b: Buffer) => void;
  /** qemu lab: run in the background, output to this file (in the guest); the pid is printed */
  detach?: string;
}

/** Where `lab exec` ran the command ("guest" or the namespace) and its exit status. */
export async function labExec(opts: LabExecOptions): Promise<{ where: string; status: number }> {
  requireRoot("svtrace lab exec");
  if (opts.argv.length === 0) fail("say what to run: svtrace lab exec -- CMD [ARGS...]");
  const names = labNames(opts.prefix);
  const state = readState(names);
  if (state?.phase !== "up") fail(`no lab is up (prefix "${names.prefix}"): run svtrace lab up first`);
  const onStdout = opts.onStdout ?? ((b: Buffer) => process.stdout.write(b));
  const onStderr = opts.onStderr ?? ((b: Buffer) => process.stderr.write(b));
  if (state.mode === "qemu") {
    const qemu = state.processes.find((p) => p.role === "qemu");
    if (!qemu || !isAlive(qemu))
      fail(`the lab's QEMU (pid ${qemu?.pid ?? "?"}) is not running: run svtrace lab down, then up again`);
    try {
      const status = await execInGuest(names.agentSocket, {
        argv: opts.argv,
        onStdout,
        onStderr,
        detach: opts.detach,
        onDetached: (pid) => onStdout(Buffer.from(`${pid}\n`)),
        forwardSignals: ["SIGINT", "SIGTERM"],
      });
      return { where: "guest", status };
    } catch (e) {
      if (e instanceof GuestExecError) fail(e.message, 127);
      const msg = (e as Error).message;
      fail(
        msg.startsWith("the guest")
          ? msg
          : `the guest agent's channel failed (${msg}): see svtrace lab status`,
      );
    }
  }
  if (opts.detach)
    fail("lab exec --detach is for the qemu lab (in a namespace lab, start it in the background yourself)");
  const status = await new Promise<number>((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", names.vm, ...opts.argv], {
      stdio: ["inherit", "pipe", "pipe"],
    });
    child.stdout.on("data", onStdout);
    child.stderr.on("data", onStderr);
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)),
    );
  });
  return { where: names.vm, status };
}
