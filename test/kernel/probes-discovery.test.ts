/**
 * Thread and IRQ discovery: the parsers on fixture text (a real-host /proc/interrupts with a multi-queue NIC,
 * a fake /proc tree with a QEMU process and its vhost threads) and on this machine's real /proc and /sys.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  irqThreads,
  netnsInode,
  nicDevice,
  nicIrqs,
  parseInterrupts,
  threadsOf,
  vhostThreads,
} from "../../src/probes/discovery.js";

const HOST_INTERRUPTS = `            CPU0       CPU1       CPU2       CPU3
   0:         44          0          0          0   IO-APIC   2-edge      timer
   9:          0          0          0          0   IO-APIC   9-fasteoi   acpi
 128:          0       1532          0          0   PCI-MSI 1048576-edge      eno1-tx-0
 129:       9911          0          0          0   PCI-MSI 1048577-edge      eno1-rx-0
 130:          0          0       2210          0   PCI-MSI 1048578-edge      eno1-rx-1
 131:          0          0          0          3   PCI-MSI 1048579-edge      eno1
 140:          1          0          0          0   PCI-MSI 2097152-edge      eno2-TxRx-0
NMI:          0          0          0          0   Non-maskable interrupts
LOC:     123456     654321     111111     222222   Local timer interrupts
`;

describe("discovery parsers on fixtures", () => {
  it("parses /proc/interrupts lines, skipping NMI/LOC", () => {
    const l = parseInterrupts(HOST_INTERRUPTS);
    assert.deepEqual(
      l.map((x) => x.irq),
      [0, 9, 128, 129, 130, 131, 140],
    );
    assert.equal(l.find((x) => x.irq === 129)?.actions, "eno1-rx-0");
    assert.equal(l.find((x) => x.irq === 9)?.actions, "acpi");
    assert.equal(l.find((x) => x.irq === 0)?.actions, "timer");
  });

  it("finds a NIC's IRQs by name in a fixture /proc (not another NIC's)", () => {
    const root = mkdtempSync(join(tmpdir(), "h5-proc-"));
    try {
      writeFileSync(join(root, "interrupts"), HOST_INTERRUPTS);
      assert.deepEqual(
        nicIrqs("eno1", { procRoot: root, sysRoot: join(root, "nosys") }),
        [128, 129, 130, 131],
      );
      assert.deepEqual(nicIrqs("eno2", { procRoot: root, sysRoot: join(root, "nosys") }), [140]);
      assert.deepEqual(nicIrqs("eno3", { procRoot: root, sysRoot: join(root, "nosys") }), []);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("lists the vhost threads of a QEMU process by tid from /proc/PID/task/*/comm", () => {
    const root = mkdtempSync(join(tmpdir(), "h5-proc-"));
    try {
      const task = (tid: number, comm: string) => {
        mkdirSync(join(root, "1580", "task", String(tid)), { recursive: true });
        writeFileSync(join(root, "1580", "task", String(tid), "comm"), `${comm}\n`);
      };
      task(1580, "qemu-system-x86");
      task(1588, "vhost-1580");
      task(1590, "CPU 0/KVM");
      task(1593, "vhost-1580");
      assert.deepEqual(
        vhostThreads(1580, root).map((t) => t.tid),
        [1588, 1593],
      );
      assert.equal(threadsOf(1580, root).length, 4);
      assert.deepEqual(vhostThreads(4242, root), []);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("finds a pre-6.4 vhost worker: a kernel thread vhost-PID of kthreadd, not in QEMU's task list", () => {
    const root = mkdtempSync(join(tmpdir(), "h5-proc-"));
    try {
      const proc = (pid: number, comm: string, ppid: number, tasks: [number, string][] = [[pid, comm]]) => {
        writeFileSync(mkdirp(join(root, String(pid)), "comm"), `${comm}\n`);
        writeFileSync(join(root, String(pid), "status"), `Name:\t${comm}\nTgid:\t${pid}\nPPid:\t${ppid}\n`);
        for (const [tid, c] of tasks)
          writeFileSync(mkdirp(join(root, String(pid), "task", String(tid)), "comm"), `${c}\n`);
      };
      proc(2, "kthreadd", 0);
      proc(2100, "qemu-system-x86", 1, [
        [2100, "qemu-system-x86"],
        [2101, "CPU 0/TCG"],
      ]);
      proc(2107, "vhost-2100", 2); // Linux 6.1: the worker of QEMU 2100
      proc(2108, "vhost-2100", 2);
      proc(2200, "vhost-2100", 1); // a user process that took the name: not a kernel thread
      proc(3107, "vhost-3000", 2); // another QEMU's worker
      assert.deepEqual(
        vhostThreads(2100, root).map((t) => t.tid),
        [2107, 2108],
      );
      assert.deepEqual(vhostThreads(3001, root), []);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

function mkdirp(dir: string, file: string): string {
  mkdirSync(dir, { recursive: true });
  return join(dir, file);
}

describe("discovery on this machine", () => {
  it("parses the real /proc/interrupts and finds the irq/N- threads for those IRQs", () => {
    const lines = parseInterrupts(readFileSync("/proc/interrupts", "utf8"));
    assert.ok(lines.length > 0, "no numbered IRQ lines parsed");
    for (const l of lines) assert.ok(Number.isInteger(l.irq) && l.actions.length > 0, JSON.stringify(l));
    // threaded IRQs exist on this kernel (irq/24-ACPI:Ged...); each found thread names one of the IRQs asked for
    const threads = irqThreads(lines.map((l) => l.irq));
    for (const t of threads) assert.match(t.comm, /^irq\/\d+-/);
    const comm = readFileSync(`/proc/${threads[0]?.pid ?? 1}/comm`, "utf8").trim();
    if (threads.length > 0) assert.equal(comm, threads[0].comm);
  });

  it("lists this process's threads, main thread first, tid = pid", () => {
    const t = threadsOf(process.pid);
    assert.ok(t.length >= 1);
    assert.equal(t[0].tid, process.pid);
    assert.equal(t[0].comm, readFileSync("/proc/self/comm", "utf8").trim());
  });

  it("maps every real NIC with a bus device to IRQs named after it", () => {
    const dev = nicDevice("eth0");
    if (dev === undefined) {
      assert.equal(nicIrqs("eth0").length, 0, "no device: no IRQs");
      return;
    }
    const irqs = nicIrqs("eth0");
    assert.ok(irqs.length > 0, `eth0 (${dev}) has IRQs`);
    const lines = parseInterrupts(readFileSync("/proc/interrupts", "utf8"));
    for (const i of irqs) {
      const l = lines.find((x) => x.irq === i);
      assert.ok(l && (l.actions.includes(dev) || l.actions.includes("eth0")), `IRQ ${i}: ${l?.actions}`);
    }
    assert.deepEqual(nicIrqs("lo"), [], "lo has no IRQ");
  });

  it("reads the inode of the own network namespace", () => {
    const ino = netnsInode("self");
    assert.ok(ino > 0);
    assert.equal(readlinkSync("/proc/self/ns/net"), `net:[${ino}]`);
  });
});
