/**
 * Checks before the lab touches anything: root, `ip`, and for OVS mode the Open vSwitch programs.
 * Each failure is one line saying what is missing and what to do.
 */
import { existsSync } from "node:fs";
import { fail } from "../errors.js";
import { which } from "./exec.js";
import type { SwitchMode } from "./names.js";

export const OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema";
export const OVS_PROGRAMS = ["ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl"] as const;

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0)
    fail(`${what} needs root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN); run it with sudo`);
}

export function requireIp(): void {
  if (!which("ip")) fail("`ip` not found on PATH: install iproute2 (apt-get install iproute2)");
  if (!which("sysctl")) fail("`sysctl` not found on PATH: install procps (apt-get install procps)");
}

export function requireOvs(): void {
  const missing = OVS_PROGRAMS.filter((p) => !which(p));
  if (missing.length > 0)
    fail(
      `Open vSwitch not found (${missing.join(", ")} missing on PATH): install openvswitch-switch, or use --switch bridge|tap`,
    );
  if (!existsSync(OVS_SCHEMA))
    fail(
      `Open vSwitch schema ${OVS_SCHEMA} missing: reinstall openvswitch-common, or use --switch bridge|tap`,
    );
}

export function preflight(mode: SwitchMode | undefined, what: string): void {
  requireRoot(what);
  requireIp();
  if (mode === "ovs") requireOvs();
}
