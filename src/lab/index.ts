/**
 * The lab's public API, for the CLI, `svtrace demo`, the publisher/tracer tests and anyone else:
 * names (`labNames`), `labUp`, `labDown`, `labStatus`, and the hidden forwarder body.
 */
export { type LabDownResult, labDown } from "./down.js";
export { type ForwarderOptions, runForwarder } from "./forwarder.js";
export {
  DEFAULT_KERNEL_PACKAGE,
  type GuestKernel,
  guestKernel,
  KERNEL_CACHE,
} from "./guest-kernel.js";
export { type LabExecOptions, labExec } from "./lab-exec.js";
export {
  DEFAULT_PREFIX,
  LAB_MODES,
  type LabMode,
  type LabNames,
  labNames,
  labPrefix,
  SWITCH_MODES,
  type SwitchMode,
} from "./names.js";
export { OVS_SV_FLOW } from "./ovs.js";
export { type ProbeOptions, type ProbeResult, probeLab } from "./probe.js";
export { type GuestStatus, type LabStatus, labStatus } from "./status.js";
export type { ForwarderStats } from "./tap.js";
export { type LabUpOptions, type LabUpResult, labUp } from "./up.js";
