/**
 * The qemu lab's initramfs, built by `lab up` into the run directory: busybox-static, the guest kernel's modules
 * needed to reach a virtio-9p root and the virtio NIC and serial port (in load order), and a busybox /init that
 * mounts the host's / read-only, tmpfs on /tmp and /run, the lab's writable guest directory at the same path as
 * on the host, brings eth0 up, moves /dev, /proc, /sys into the new root and switch_roots into a loop that runs
 * the guest agent with the host's node. Packed with cpio (newc), uncompressed.
 */
import { spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fail } from "../errors.js";
import { which } from "./exec.js";
import type { GuestKernel } from "./guest-kernel.js";

/**
 * Modules the guest needs (virtio PCI, the 9p root, the NIC, the agent's serial port); the load order comes from
 * the kernel's modules.dep (dependencies first), since it changes between builds: in 6.1.0-50 virtio came before
 * virtio_ring, in 6.1.0-57 virtio needs virtio_ring (KERNEL-TRACING.md §12 lists the 6.1.0-50 order).
 */
export const GUEST_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "virtio_net", "virtio_console"] as const;

/** Paths (relative to the modules directory) of `wanted` and everything they need, in load order. */
export function moduleLoadOrder(modulesDep: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of modulesDep.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    deps.set(
      line.slice(0, colon),
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
  }
  const byName = new Map<string, string>();
  for (const path of deps.keys())
    byName.set(path.slice(path.lastIndexOf("/") + 1).replace(/\.ko(\..*)?$/, ""), path);
  const order: string[] = [];
  const visit = (path: string) => {
    if (order.includes(path)) return;
    // modprobe loads the last dependency listed first
    for (const d of [...(deps.get(path) ?? [])].reverse()) visit(d);
    order.push(path);
  };
  for (const w of wanted) {
    const path = byName.get(w);
    if (!path) fail(`the guest kernel has no module ${w}: use a Debian linux-image-*-amd64 kernel`);
    visit(path);
  }
  return order;
}

/** 9p mount tags QEMU exports. */
export const HOSTROOT_TAG = "hostroot";
export const GUESTDIR_TAG = "guestdir";

export interface InitramfsOptions {
  kernel: GuestKernel;
  /** where to build (a fresh directory is made beside the output) */
  out: string;
  /** host path of the directory shared read-write; mounted at the same path in the guest */
  guestDir: string;
  /** node binary and agent script (host paths, read through the 9p root) */
  node: string;
  agent: string;
  /** the agent's virtio-serial port name */
  portName: string;
}

/** Build the initramfs file `opts.out`. */
export async function buildInitramfs(opts: InitramfsOptions): Promise<void> {
  const busybox = which("busybox");
  if (!busybox) fail("busybox not found: the qemu lab needs busybox-static (apt-get install busybox-static)");
  const head = readFileSync(busybox).subarray(0, 4096).toString("latin1");
  if (head.includes("ld-linux"))
    fail(
      `${busybox} is linked dynamically: the guest's initramfs needs busybox-static (apt-get install busybox-static)`,
    );
  if (!which("cpio")) fail("cpio not found: the qemu lab needs it (apt-get install cpio)");
  const root = `${opts.out}.d`;
  rmSync(root, { recursive: true, force: true });
  for (const d of ["bin", "modules", "proc", "sys", "dev", "newroot"])
    mkdirSync(join(root, d), { recursive: true });
  copyFileSync(busybox, join(root, "bin", "busybox"));
  chmodSync(join(root, "bin", "busybox"), 0o755);
  const names: string[] = [];
  const dep = readFileSync(join(opts.kernel.modulesDir, "modules.dep"), "utf8");
  for (const rel of moduleLoadOrder(dep, GUEST_MODULES)) {
    const src = join(opts.kernel.modulesDir, rel);
    if (!existsSync(src))
      fail(`guest kernel ${opts.kernel.release}: ${src} is missing (modules.dep names it)`);
    if (!rel.endsWith(".ko"))
      fail(
        `guest kernel ${opts.kernel.release}: ${rel} is compressed; busybox insmod needs plain .ko modules`,
      );
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    copyFileSync(src, join(root, "modules", name));
    names.push(name);
  }
  writeFileSync(join(root, "init"), initScript(opts, names), { mode: 0o755 });
  await packCpio(root, opts.out);
  rmSync(root, { recursive: true, force: true });
}

/** Single-quote a value for the busybox shell script (paths come from the host, not from the user). */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function initScript(opts: InitramfsOptions, modules: string[]): string {
  const nine = "trans=virtio,version=9p2000.L,msize=512000";
  const stage2 = [
    "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root UV_THREADPOOL_SIZE=16",
    "while :; do",
    `  ${q(opts.node)} ${q(opts.agent)} --port ${q(opts.portName)}`,
    '  echo "svtrace-guest: agent exited ($?), restarting"',
    "  sleep 1",
    "done",
  ].join("\n");
  return `#!/bin/busybox sh
# svtrace qemu lab guest init (generated by svtrace lab up)
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in ${modules.join(" ")}; do insmod /modules/$m || echo "svtrace-init: insmod $m failed"; done
die() { echo "svtrace-init: $*"; sleep 2; poweroff -f; }
mount -t 9p -o ${nine},ro,cache=loose ${HOSTROOT_TAG} /newroot || die "cannot mount the host's root over 9p"
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp || die "tmpfs /tmp"
mount -t tmpfs -o mode=755 tmpfs /newroot/run || die "tmpfs /run"
mkdir -p /newroot${q(opts.guestDir)}
mount -t 9p -o ${nine} ${GUESTDIR_TAG} /newroot${q(opts.guestDir)} || die "cannot mount the guest directory"
if [ -d /newroot/lib/modules ]; then mount --bind /newroot${q(opts.kernel.modulesDir)} /newroot/lib/modules; fi
hostname svtrace-guest
ip link set lo up
ip link set eth0 up || echo "svtrace-init: no eth0"
mkdir -p /dev/pts /dev/shm
mount --move /dev /newroot/dev
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
echo "svtrace-init: switching root"
exec switch_root /newroot /bin/sh -c ${q(stage2)}
`;
}

/** `find .`-like list fed to `cpio -o -H newc` in `root`, output to `out`. */
async function packCpio(root: string, out: string): Promise<void> {
  const entries = [".", "init", "bin", "bin/busybox", "modules", "proc", "sys", "dev", "newroot"];
  for (const f of readdirSync(join(root, "modules"))) entries.push(`modules/${f}`);
  const child = spawn("cpio", ["-o", "-H", "newc", "--quiet"], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  child.stdin.end(`${entries.join("\n")}\n`);
  const [, code] = await Promise.all([pipeline(child.stdout, createWriteStream(out)), exited]);
  if (code !== 0) throw new Error(`cpio failed (${code}): ${err.trim()}`);
}
