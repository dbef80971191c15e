/**
 * Open vSwitch for the lab's `ovs` mode: a private ovsdb-server and ovs-vswitchd (userspace `netdev` datapath,
 * the kernel has no OVS module) started inside the hyp namespace from their own run directory, bridge br-sv with
 * hyp-in as OpenFlow port 1 and hyp-out as port 2, and one flow: SV (EtherType 0x88BA, tagged or not) from port 1
 * to port 2. The default NORMAL flow is removed, so nothing else crosses the switch. The daemon's packet sockets
 * on the two ports get 8 MiB receive buffers (ovs-sockets.ts).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { CommandError, run, sleep } from "./exec.js";
import type { LabNames } from "./names.js";
import { enlargeOvsReceiveBuffers, type OvsSocket, ovsSockets } from "./ovs-sockets.js";
import { OVS_SCHEMA } from "./preflight.js";
import { identify, type LabProcess, type LabProcessRole } from "./processes.js";

/** The one flow the lab installs. */
export const OVS_SV_FLOW = "in_port=1,dl_type=0x88ba,actions=output:2";

export function ovsDir(names: LabNames): string {
  return `${names.runDir}/ovs`;
}

function ovsEnv(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir };
}

function vsctl(dir: string, args: string[]): Promise<string> {
  return run("ovs-vsctl", [`--db=unix:${dir}/db.sock`, "--timeout=20", ...args], { env: ovsEnv(dir) });
}

function ofctl(dir: string, names: LabNames, args: string[]): Promise<string> {
  const [cmd, ...rest] = args;
  return run("ovs-ofctl", [cmd ?? "show", `unix:${dir}/${names.ovsBridge}.mgmt`, ...rest], {
    env: ovsEnv(dir),
  });
}

/**
 * Run a daemon with --detach inside the namespace and wait for the parent to return. Resolves on 'exit'
 * (not 'close'): the detached daemon may keep inherited pipes open.
 */
function startDetached(ns: string, program: string, args: string[], dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const argv = ["netns", "exec", ns, program, ...args];
    const child = spawn("ip", argv, { env: ovsEnv(dir), stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    child.on("error", (e) => reject(new CommandError(["ip", ...argv], e.message, null)));
    child.on("exit", (code) => {
      child.stderr.destroy();
      if (code === 0) resolve();
      else reject(new CommandError(["ip", ...argv], stderr, code));
    });
  });
}

async function recordFromPidfile(
  role: LabProcessRole,
  pidfile: string,
  record: (p: LabProcess) => void,
): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const pid = Number.parseInt(readFileSync(pidfile, "utf8").trim(), 10);
      const p = identify(role, pid);
      if (p) {
        record(p);
        return;
      }
    } catch {
      // not written yet
    }
    await sleep(20);
  }
  throw new Error(`${role} did not write ${pidfile}`);
}

/** Start the private OVS instance in the hyp namespace and configure br-sv. `record` is called for each daemon. */
export async function startOvs(names: LabNames, record: (p: LabProcess) => void): Promise<void> {
  const dir = ovsDir(names);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  await run("ovsdb-tool", ["create", `${dir}/conf.db`, OVS_SCHEMA], { env: ovsEnv(dir) });
  await startDetached(
    names.hyp,
    "ovsdb-server",
    [
      `${dir}/conf.db`,
      `--remote=punix:${dir}/db.sock`,
      `--pidfile=${dir}/ovsdb-server.pid`,
      `--log-file=${dir}/ovsdb-server.log`,
      `--unixctl=${dir}/ovsdb-server.ctl`,
      "--detach",
    ],
    dir,
  );
  await recordFromPidfile("ovsdb-server", `${dir}/ovsdb-server.pid`, record);
  await vsctl(dir, ["--no-wait", "init"]);
  await startDetached(
    names.hyp,
    "ovs-vswitchd",
    [
      `unix:${dir}/db.sock`,
      `--pidfile=${dir}/ovs-vswitchd.pid`,
      `--log-file=${dir}/ovs-vswitchd.log`,
      `--unixctl=${dir}/ovs-vswitchd.ctl`,
      "--detach",
    ],
    dir,
  );
  await recordFromPidfile("ovs-vswitchd", `${dir}/ovs-vswitchd.pid`, record);
  await vsctl(dir, [
    "add-br",
    names.ovsBridge,
    "--",
    "set",
    "bridge",
    names.ovsBridge,
    "datapath_type=netdev",
    "fail_mode=secure",
  ]);
  await vsctl(dir, [
    "add-port",
    names.ovsBridge,
    names.hypIn,
    "--",
    "set",
    "interface",
    names.hypIn,
    "ofport_request=1",
  ]);
  await vsctl(dir, [
    "add-port",
    names.ovsBridge,
    names.hypOut,
    "--",
    "set",
    "interface",
    names.hypOut,
    "ofport_request=2",
  ]);
  await ofctl(dir, names, ["del-flows"]);
  await ofctl(dir, names, ["add-flow", OVS_SV_FLOW]);
  // not fatal: the lab works with the default buffers, only loses more; status shows the buffers and why
  const why = await enlargeOvsReceiveBuffers(names.hyp, [names.hypIn, names.hypOut]);
  if (why) writeFileSync(rcvbufNoteFile(names), `${why}\n`);
}

function rcvbufNoteFile(names: LabNames): string {
  return `${ovsDir(names)}/receive-buffers.txt`;
}

/** What `lab status` shows about OVS. */
export interface OvsInfo {
  bridge: string;
  datapathType: string;
  ports: { name: string; ofport: number }[];
  flows: string[];
  /** ovs-vswitchd's packet sockets on the ports: receive buffer and drops (ovs-sockets.ts) */
  sockets: OvsSocket[];
  /** why `lab up` could not enlarge their receive buffers, or null */
  receiveBufferProblem: string | null;
}

interface OvsdbJson {
  headings: string[];
  data: unknown[][];
}

/** Query the running private OVS; undefined if it does not answer. */
export async function ovsInfo(names: LabNames): Promise<OvsInfo | undefined> {
  const dir = ovsDir(names);
  try {
    const dp = (await vsctl(dir, ["get", "bridge", names.ovsBridge, "datapath_type"])).trim();
    const ifs = JSON.parse(
      await vsctl(dir, ["--format=json", "--columns=name,ofport", "list", "Interface"]),
    ) as OvsdbJson;
    const ports = ifs.data
      .map((row) => ({ name: String(row[0]), ofport: Number(row[1]) }))
      .filter((p) => p.name !== names.ovsBridge)
      .sort((a, b) => a.ofport - b.ofport);
    const flows = (await ofctl(dir, names, ["dump-flows", "--no-stats"]))
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("NXST_FLOW") && !l.startsWith("OFPST_FLOW"));
    let receiveBufferProblem: string | null = null;
    try {
      receiveBufferProblem = readFileSync(rcvbufNoteFile(names), "utf8").trim();
    } catch {
      // enlarged as intended
    }
    const sockets = (await ovsSockets(names.hyp).catch(() => [] as OvsSocket[])).sort((a, b) =>
      a.device.localeCompare(b.device),
    );
    return {
      bridge: names.ovsBridge,
      datapathType: dp.replace(/"/g, ""),
      ports,
      flows,
      sockets,
      receiveBufferProblem,
    };
  } catch {
    return undefined;
  }
}
