/**
 * The qemu lab's guest kernel: a Debian kernel package (default the `linux-image-amd64` meta package, resolved to
 * the linux-image-6.1.0-N-amd64 it depends on) fetched with `apt-get download`, unpacked with `dpkg-deb -x` and
 * indexed with `depmod -b`, cached under /var/cache/svtrace/kernels/<package>/. Or a vmlinuz file the user gives
 * (`--kernel`), whose modules must sit beside it in a package tree or in /lib/modules/<release>.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fail } from "../errors.js";
import { CommandError, run, which } from "./exec.js";

export const KERNEL_CACHE = "/var/cache/svtrace/kernels";
export const DEFAULT_KERNEL_PACKAGE = "linux-image-amd64";

export interface GuestKernel {
  /** the kernel image QEMU boots */
  vmlinuz: string;
  /** /lib/modules/<release> of that kernel (with modules.dep) */
  modulesDir: string;
  /** uname -r of the kernel */
  release: string;
  /** the Debian package it came from, or null for --kernel FILE */
  package: string | null;
}

/** The kernel to boot: `--kernel FILE`, else the (cached or fetched) package. */
export async function guestKernel(opts: { kernel?: string; kernelPackage?: string }): Promise<GuestKernel> {
  if (opts.kernel && opts.kernelPackage) fail("give --kernel FILE or --kernel-package NAME, not both");
  if (opts.kernel) return kernelFromFile(resolve(opts.kernel));
  return await kernelFromPackage(opts.kernelPackage ?? DEFAULT_KERNEL_PACKAGE);
}

function kernelFromFile(file: string): GuestKernel {
  if (!existsSync(file)) fail(`kernel ${file} does not exist: give the path of a vmlinuz file`);
  const m = /^vmlinuz-(.+)$/.exec(basename(file));
  if (!m?.[1])
    fail(`kernel ${file}: name it vmlinuz-RELEASE (as Debian does) so svtrace can find its modules`);
  const release = m[1];
  const candidates = [join(dirname(file), "..", "lib", "modules", release), `/lib/modules/${release}`];
  const modulesDir = candidates.find((d) => existsSync(join(d, "modules.dep")));
  if (!modulesDir)
    fail(
      `no modules for kernel ${release} (looked for modules.dep in ${candidates.join(" and ")}): unpack its package beside it or use --kernel-package`,
    );
  return { vmlinuz: file, modulesDir: resolve(modulesDir), release, package: null };
}

/** The unpacked tree in the cache, if complete (it is renamed into place only once complete). */
function cachedTree(pkg: string): GuestKernel | undefined {
  const dir = join(KERNEL_CACHE, pkg);
  try {
    const image = readdirSync(join(dir, "boot")).find((f) => f.startsWith("vmlinuz-"));
    if (!image) return undefined;
    const release = image.slice("vmlinuz-".length);
    const modulesDir = join(dir, "lib", "modules", release);
    if (!existsSync(join(modulesDir, "modules.dep"))) return undefined;
    return { vmlinuz: join(dir, "boot", image), modulesDir, release, package: pkg };
  } catch {
    return undefined;
  }
}

/** The cached kernel of a package, fetching it first if needed (needs root, apt and Debian's mirror). */
export async function kernelFromPackage(pkg: string): Promise<GuestKernel> {
  if (!/^[a-z0-9][a-z0-9.+-]+$/.test(pkg)) fail(`bad package name "${pkg}": give a Debian package name`);
  const cached = cachedTree(pkg);
  if (cached) return cached;
  for (const prog of ["apt-get", "apt-cache", "dpkg-deb", "depmod"])
    if (!which(prog))
      fail(`${prog} not found: the qemu lab fetches its kernel with apt (install apt, dpkg and kmod)`);
  const concrete = await resolveImagePackage(pkg);
  const work = join(KERNEL_CACHE, `.${pkg}.${process.pid}.tmp`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    await aptDownload(concrete, work);
    const deb = readdirSync(work).find((f) => f.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${concrete} wrote no .deb`);
    const tree = join(work, "tree");
    await run("dpkg-deb", ["-x", join(work, deb), tree], { timeoutMs: 300_000 });
    const image = readdirSync(join(tree, "boot")).find((f) => f.startsWith("vmlinuz-"));
    if (!image) fail(`package ${concrete} has no /boot/vmlinuz-*: give a linux-image-* package`);
    const release = image.slice("vmlinuz-".length);
    await run("depmod", ["-b", tree, release], { timeoutMs: 300_000 });
    writeFileSync(join(tree, "svtrace-package.txt"), `${concrete} ${deb}\n`);
    rmSync(join(KERNEL_CACHE, pkg), { recursive: true, force: true });
    renameSync(tree, join(KERNEL_CACHE, pkg));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    fail(`could not fetch the guest kernel ${pkg}: ${msg}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const got = cachedTree(pkg);
  if (!got) fail(`the guest kernel ${pkg} was unpacked but is incomplete in ${KERNEL_CACHE}/${pkg}`);
  return got;
}

/** A meta package (linux-image-amd64) stands for the linux-image-* it depends on. */
async function resolveImagePackage(pkg: string): Promise<string> {
  let out: string;
  try {
    out = await run("apt-cache", ["depends", "--no-recommends", "--no-suggests", pkg]);
  } catch (e) {
    fail(
      `Debian package ${pkg} unknown to apt (${(e as Error).message}): run apt-get update or check the name`,
    );
  }
  const dep = /^\s+Depends: (linux-image-[^\s]+)$/m.exec(out)?.[1];
  return dep && !/^linux-image-\d/.test(pkg) ? dep : pkg;
}

async function aptDownload(pkg: string, dir: string): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // apt downloads as _apt when it can: let it write into the work directory
  try {
    await run("apt-get", ["download", "-q", "-o", "APT::Sandbox::User=root", pkg], {
      env,
      timeoutMs: 600_000,
      cwd: dir,
    });
  } catch (e) {
    if (!(e instanceof CommandError)) throw e;
    await run("apt-get", ["update", "-q"], { env, timeoutMs: 600_000 });
    await run("apt-get", ["download", "-q", "-o", "APT::Sandbox::User=root", pkg], {
      env,
      timeoutMs: 600_000,
      cwd: dir,
    });
  }
}
