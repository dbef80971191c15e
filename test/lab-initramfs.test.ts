/**
 * The qemu lab's module load order comes from the guest kernel's modules.dep (dependencies first, as modprobe
 * loads them): checked on the dependency lines of two Debian 6.1 builds that differ (virtio needs virtio_ring in
 * 6.1.0-57, not in 6.1.0-50), and an unknown module is a one-line error.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { UserError } from "../src/errors.js";
import { GUEST_MODULES, moduleLoadOrder } from "../src/lab/initramfs.js";

// excerpt of /lib/modules/6.1.0-57-amd64/modules.dep (Debian linux-image-6.1.0-57-amd64)
const DEP_57 = `kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/netfs/netfs.ko:
kernel/net/9p/9pnet.ko:
kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/net/core/failover.ko:
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
`;

const base = (p: string) => p.slice(p.lastIndexOf("/") + 1, -3);

test("load order from modules.dep: every dependency before its user, each module once", () => {
  const order = moduleLoadOrder(DEP_57, GUEST_MODULES).map(base);
  assert.deepEqual(order, [
    "virtio_ring",
    "virtio",
    "virtio_pci_modern_dev",
    "virtio_pci_legacy_dev",
    "virtio_pci",
    "9pnet",
    "9pnet_virtio",
    "netfs",
    "fscache",
    "9p",
    "failover",
    "net_failover",
    "virtio_net",
    "virtio_console",
  ]);
});

test("6.1.0-50, where virtio does not need virtio_ring: dependencies still come first", () => {
  const dep50 = DEP_57.replace(
    "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/virtio/virtio.ko:",
  );
  const order = moduleLoadOrder(dep50, ["virtio_console"]).map(base);
  assert.deepEqual(order, ["virtio_ring", "virtio", "virtio_console"]);
});

test("a module the kernel does not have is a one-line error", () => {
  assert.throws(
    () => moduleLoadOrder(DEP_57, ["vhost_net"]),
    (e: unknown) =>
      e instanceof UserError &&
      e.message === "the guest kernel has no module vhost_net: use a Debian linux-image-*-amd64 kernel",
  );
});
