/**
 * The few libc calls svtrace needs, bound once through koffi (no native build, see DEPENDENCIES.md §7):
 * AF_PACKET sockets, tap devices, network-namespace entry, pacing clocks, thread names and scheduling, and
 * taking a copy of another process's file descriptor.
 * Buffers are passed as Node Buffers/Uint8Arrays; every call returns the raw C result, use `errno()` on -1.
 */
import koffi from "koffi";

const lib = koffi.load("libc.so.6");

export const AF_PACKET = 17;
export const SOCK_RAW = 3;
export const SOL_SOCKET = 1;
export const SOL_PACKET = 263;
export const SO_RCVBUF = 8;
export const SO_SNDBUF = 7;
export const SO_RCVBUFFORCE = 33;
export const SO_SNDBUFFORCE = 32;
export const SO_TIMESTAMPNS = 35;
export const SO_RCVTIMEO = 20;
export const PACKET_AUXDATA = 8;
export const PACKET_IGNORE_OUTGOING = 23;
export const MSG_DONTWAIT = 0x40;
export const EAGAIN = 11;
export const EINTR = 4;
export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_TAI = 11;
export const TIMER_ABSTIME = 1;
export const PR_SET_NAME = 15;
export const PR_SET_TIMERSLACK = 29;
export const CLONE_NEWNET = 0x40000000;
export const SCHED_OTHER = 0;
export const SCHED_FIFO = 1;
export const O_RDWR = 2;
export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const O_NONBLOCK = 0o4000;
export const POLLIN = 1;

export const timespec = koffi.struct("svt_timespec", { tv_sec: "int64", tv_nsec: "int64" });
export const sockaddr_ll = koffi.struct("svt_sockaddr_ll", {
  sll_family: "uint16",
  sll_protocol: "uint16", // network byte order
  sll_ifindex: "int32",
  sll_hatype: "uint16",
  sll_pkttype: "uint8",
  sll_halen: "uint8",
  sll_addr: koffi.array("uint8", 8),
});
export const sched_param = koffi.struct("svt_sched_param", { sched_priority: "int" });
export const pollfd = koffi.struct("svt_pollfd", { fd: "int", events: "short", revents: "short" });

export const socket = lib.func("int socket(int domain, int type, int protocol)") as (
  d: number,
  t: number,
  p: number,
) => number;
export const bind = lib.func("int bind(int fd, const svt_sockaddr_ll *addr, uint32 len)") as (
  fd: number,
  addr: object,
  len: number,
) => number;
export const setsockopt = lib.func(
  "int setsockopt(int fd, int level, int name, const void *val, uint32 len)",
) as (fd: number, level: number, name: number, val: Buffer, len: number) => number;
export const send = lib.func("long send(int fd, const void *buf, size_t len, int flags)") as (
  fd: number,
  buf: Uint8Array,
  len: number,
  flags: number,
) => number;
/** sendmmsg with a raw mmsghdr array the caller lays out in a Buffer (batch sends, see net/afpacket.ts). */
export const sendmmsg = lib.func("int sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags)") as (
  fd: number,
  msgvec: Buffer,
  vlen: number,
  flags: number,
) => number;
export const recv = lib.func("long recv(int fd, _Out_ void *buf, size_t len, int flags)") as (
  fd: number,
  buf: Uint8Array,
  len: number,
  flags: number,
) => number;
/** recvmsg with a raw msghdr the caller lays out in a Buffer (for SO_TIMESTAMPNS control messages). */
export const recvmsg = lib.func("long recvmsg(int fd, void *msg, int flags)") as (
  fd: number,
  msg: Buffer,
  flags: number,
) => number;
export const read = lib.func("long read(int fd, _Out_ void *buf, size_t len)") as (
  fd: number,
  buf: Uint8Array,
  len: number,
) => number;
export const write = lib.func("long write(int fd, const void *buf, size_t len)") as (
  fd: number,
  buf: Uint8Array,
  len: number,
) => number;
export const open = lib.func("int open(const char *path, int flags)") as (
  path: string,
  flags: number,
) => number;
export const close = lib.func("int close(int fd)") as (fd: number) => number;
export const ioctl = lib.func("int ioctl(int fd, unsigned long req, void *arg)") as (
  fd: number,
  req: number,
  arg: Buffer,
) => number;
export const poll = lib.func("int poll(_Inout_ svt_pollfd *fds, unsigned long n, int timeout)") as (
  fds: { fd: number; events: number; revents: number },
  n: number,
  timeoutMs: number,
) => number;
/** poll with a nanosecond timeout (a null sigmask): wakes on the fd or at the timeout, whichever is first. */
export const ppoll = lib.func(
  "int ppoll(_Inout_ svt_pollfd *fds, unsigned long n, const svt_timespec *tmo, void *sigmask)",
) as (
  fds: { fd: number; events: number; revents: number },
  n: number,
  timeout: { tv_sec: number; tv_nsec: number },
  sigmask: null,
) => number;
export const if_nametoindex = lib.func("unsigned int if_nametoindex(const char *name)") as (
  name: string,
) => number;
export const setns = lib.func("int setns(int fd, int nstype)") as (fd: number, nstype: number) => number;
export const clock_gettime = lib.func("int clock_gettime(int clk, _Out_ svt_timespec *ts)") as (
  clk: number,
  ts: { tv_sec: number; tv_nsec: number },
) => number;
/**
 * clock_gettime into caller memory (a 16-byte Buffer: tv_sec and tv_nsec as int64). Reading the words back as
 * int32 lets a spin loop compare times without making a JavaScript double per read (each one is a heap
 * allocation when it crosses a call boundary: 18 bytes per read, see publish/pacer.ts).
 */
export const clock_gettime_raw = lib.func("int clock_gettime(int clk, void *ts)") as (
  clk: number,
  ts: Buffer,
) => number;
export const clock_nanosleep = lib.func(
  "int clock_nanosleep(int clk, int flags, const svt_timespec *req, _Out_ svt_timespec *rem)",
) as (clk: number, flags: number, req: { tv_sec: number; tv_nsec: number }, rem: object | null) => number;
export const prctl = lib.func(
  "int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)",
) as (option: number, a2: number | bigint, a3: number, a4: number, a5: number) => number;
/** prctl(PR_SET_NAME) needs a char* argument; bound separately. */
export const prctl_name = lib.func(
  "int prctl(int option, const char *name, unsigned long a3, unsigned long a4, unsigned long a5)",
) as (option: number, name: string, a3: number, a4: number, a5: number) => number;
export const sched_setscheduler = lib.func(
  "int sched_setscheduler(int pid, int policy, const svt_sched_param *param)",
) as (pid: number, policy: number, param: { sched_priority: number }) => number;
export const sched_setaffinity = lib.func(
  "int sched_setaffinity(int pid, size_t size, const void *mask)",
) as (pid: number, size: number, mask: Buffer) => number;
export const gettid = lib.func("int gettid(void)") as () => number;
const syscall = lib.func("long syscall(long nr, ...)") as (
  nr: number,
  ...typedArgs: unknown[]
) => number | bigint;
const SYS_pidfd_open = 434;
const SYS_pidfd_getfd = 438;

/**
 * A copy, in this process, of file descriptor `fd` of process `pid` (pidfd_open + pidfd_getfd, Linux 5.6+;
 * needs ptrace rights over it, which root has): both refer to the same open file, so a socket option set on
 * the copy holds for the owner too. Returns the new fd, or -1 (errno set). Close it when done.
 */
export function copyFdOf(pid: number, fd: number): number {
  const pidfd = Number(syscall(SYS_pidfd_open, "int", pid, "unsigned int", 0));
  if (pidfd < 0) return -1;
  const copy = Number(syscall(SYS_pidfd_getfd, "int", pidfd, "int", fd, "unsigned int", 0));
  const e = koffi.errno();
  close(pidfd);
  koffi.errno(e);
  return copy;
}
/** mmap/munmap for shared kernel memory (the BPF ring buffer, ../libbpf/ring.ts); MAP_FAILED is address -1. */
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const _SC_PAGESIZE = 30;
export const mmap = lib.func("void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)") as (
  addr: null,
  len: number,
  prot: number,
  flags: number,
  fd: number,
  off: number,
) => unknown;
export const munmap = lib.func("int munmap(void *addr, size_t len)") as (
  addr: unknown,
  len: number,
) => number;
export const sysconf = lib.func("long sysconf(int name)") as (name: number) => number;
export const strerror = lib.func("const char *strerror(int errnum)") as (e: number) => string;

/** errno of the last failed call on this thread. */
export function errno(): number {
  return koffi.errno();
}

/** "Operation not permitted (EPERM 1)"-style text for the last error. */
export function lastError(): string {
  const e = koffi.errno();
  return `${strerror(e)} (errno ${e})`;
}

/** htons for a 16-bit value. */
export function htons(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

/** Current time of a clock in nanoseconds. */
export function clockNs(clk: number): bigint {
  const ts = { tv_sec: 0, tv_nsec: 0 };
  clock_gettime(clk, ts);
  return BigInt(ts.tv_sec) * 1_000_000_000n + BigInt(ts.tv_nsec);
}

/** Name the calling OS thread (what `comm` shows in /proc/PID/task/TID and in bpftrace). Max 15 chars. */
export function setThreadName(name: string): void {
  prctl_name(PR_SET_NAME, name.slice(0, 15), 0, 0, 0);
}

/** Move the calling thread into a named network namespace (/run/netns/NAME, as made by `ip netns add`). */
export function enterNetns(name: string): void {
  const fd = open(`/run/netns/${name}`, O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw new Error(`cannot open network namespace ${name}: ${lastError()}`);
  const rc = setns(fd, CLONE_NEWNET);
  const err = rc < 0 ? lastError() : "";
  close(fd);
  if (rc < 0) throw new Error(`cannot enter network namespace ${name}: ${err}`);
}
