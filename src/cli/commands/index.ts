/**
 * Every svtrace sub-command, in the order `svtrace --help` lists them.
 * A command module exports `register(program)`; the CLI stays a thin layer over the library modules.
 */
import type { Command } from "@commander-js/extra-typings";
import { register as compare } from "./compare.js";
import { register as decode } from "./decode.js";
import { register as demo } from "./demo.js";
import { register as detect } from "./detect.js";
import { register as export_ } from "./export.js";
import { register as lab } from "./lab.js";
import { register as live } from "./live.js";
import { register as path } from "./path.js";
import { register as pcap } from "./pcap.js";
import { register as publish } from "./publish.js";
import { register as record } from "./record.js";
import { register as report } from "./report.js";
import { register as selfcheck } from "./selfcheck.js";
import { register as streams } from "./streams.js";
import { register as subscribe } from "./subscribe.js";

export type Register = (program: Command) => void;

export const commands: Register[] = [
  demo,
  decode,
  streams,
  detect,
  lab,
  live,
  path,
  record,
  export_,
  report,
  compare,
  pcap,
  publish,
  subscribe,
  selfcheck,
];
