/**
 * `svtrace detect`: which SV streams arrive on an interface (svID, APPID, MACs, VLAN, rate, smpCnt modulus),
 * read with an AF_PACKET socket and svtrace's own decoder (no tshark). Thin layer over src/detect/.
 */
import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { detectStreams } from "../../detect/detect.js";

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 3600)
    throw new InvalidArgumentError("give seconds, > 0 and <= 3600");
  return n;
}

const HELP = `
Output (one line per stream): svID, APPID, source > destination MAC, VLAN id/priority, frames, samples,
measured samples/s, smpCnt modulus (from a wrap seen, or "?" guessed from the largest counter) and its nominal
meaning (e.g. 50 Hz x 80 (9-2LE)), missing samples, duplicates.

--json prints one object: {"iface","netns","listened_s","sv_frames","undecodable","streams":[{"svID","appid",
"src","dst","vlan":{"id","pcp"}|null,"frames","samples","rate","modulus","modulusFrom":"wrap"|"max","nominal",
"missing","duplicates","firstNs","lastNs"}]} (firstNs/lastNs as strings of ns since the epoch).

Exit status 1 with "no SV seen on IF within S s" when nothing arrives before --timeout.

Examples:
  svtrace detect --iface enp7s0
  svtrace detect --iface vm0 --netns svt-vm --timeout 10 --json
`;

export function register(program: Command): void {
  program
    .command("detect")
    .description(
      "list the SV streams arriving on an interface (svID, APPID, MACs, VLAN, rate, smpCnt modulus)",
    )
    .requiredOption("--iface <if>", "interface to listen on")
    .option("--netns <ns>", "network namespace the interface is in (ip netns name)")
    .option("--timeout <s>", "seconds to wait for the first SV", seconds, 5)
    .option("--listen <s>", "seconds to keep listening after the first SV (rates, modulus)", seconds, 2)
    .option("--json", "one JSON object instead of a table")
    .addHelpText("after", HELP)
    .action((o) => {
      const r = detectStreams({ iface: o.iface, netns: o.netns, timeoutS: o.timeout, listenS: o.listen });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`);
        return;
      }
      const lines = [
        `${r.streams.length} SV stream(s) on ${r.iface}${r.netns ? ` (netns ${r.netns})` : ""}, ${r.sv_frames} frames in ${r.listened_s} s` +
          (r.undecodable ? `, ${r.undecodable} undecodable` : ""),
      ];
      for (const s of r.streams) {
        const vlan = s.vlan ? `vlan ${s.vlan.id} prio ${s.vlan.pcp}` : "untagged";
        const mod =
          s.modulus === null ? "modulus ?" : `modulus ${s.modulus}${s.modulusFrom === "max" ? "?" : ""}`;
        lines.push(
          `${s.svID}  appid 0x${s.appid.toString(16).padStart(4, "0")}  ${s.src} > ${s.dst ?? "?"}  ${vlan}  ` +
            `${s.frames} frames  ${s.samples} samples  ${s.rate ?? "?"} samples/s  ${mod}` +
            (s.nominal ? ` (${s.nominal})` : "") +
            `  missing ${s.missing}  duplicates ${s.duplicates}`,
        );
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
