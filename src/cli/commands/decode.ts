/**
 * `svtrace decode FILE`: every SV ASDU of a pcap/pcapng capture, one line each (or one JSON object each, in the
 * field names of the tshark reference decodes). Thin layer over src/capture/decode-capture.ts.
 */
import type { Command } from "@commander-js/extra-typings";
import { type DecodeCounts, decodeCaptureLines, emptyDecodeCounts } from "../../capture/decode-capture.js";
import { writeLines } from "../line-output.js";

const HELP = `
Output: one line per ASDU (a frame with 8 ASDUs gives 8 lines):
  #frame  time (UTC)  src > dst  vlan id pcp  appid  svID  smpCnt  confRev  smpSynch  [optional fields]  values
  [warning "..."]
Link types: Ethernet (with or without 802.1Q, VID 0 too) and Linux cooked (SLL) captures; pcap (µs or ns) and pcapng.

--json prints one object per ASDU with the fields of the reference decodes:
  frame, time_epoch, src, dst, vlan_id, vlan_pri, appid, length, simulate, noASDU, asdu_index, svID, datSet,
  smpCnt, confRev, refrTm, smpSynch, smpRate, smpMod, gmIdentity, seqData_hex, values, qualities (null if absent),
  warning (null, or what is wrong with a frame whose ASDUs still decode: SV Length, savPdu or seqASDU running
  past the captured bytes, as snaplen-cut captures and miscounting merging units give, or a noASDU mismatch;
  then every complete ASDU is printed and the one cut short is not).
A frame with nothing decodable prints {"frame":N,"error":"...","offset":K} and decoding goes on.
Packets that are not SV are skipped unless --all (then one line / {"frame":N,"time_epoch":..,"not_sv":"EtherType 0x0800"}).
A summary (packets, SV frames, ASDUs, errors, skipped) goes to stderr.

Examples:
  svtrace decode capture.pcap
  svtrace decode capture.pcapng --json | jq -c 'select(.svID == "MU01") | [.frame, .smpCnt]'
  svtrace decode mixed.pcap --all | head
`;

export function register(program: Command): void {
  program
    .command("decode")
    .description(
      "decode the IEC 61850-9-2 SV frames of a pcap/pcapng capture, one line (or JSON object) per ASDU",
    )
    .argument("<file>", "pcap or pcapng capture")
    .option("--json", "one JSON object per ASDU (reference field names)")
    .option("--all", "also list packets that are not SV")
    .option("-q, --quiet", "no summary on stderr")
    .addHelpText("after", HELP)
    .action(async (file, o) => {
      const counts: DecodeCounts = emptyDecodeCounts();
      const warnings: string[] = [];
      const lines = decodeCaptureLines(
        file,
        { json: o.json, all: o.all, onWarning: (w) => warnings.push(w) },
        counts,
      );
      const complete = await writeLines(lines);
      for (const w of warnings) process.stderr.write(`svtrace: warning: ${file}: ${w}\n`);
      if (!complete || o.quiet) return;
      const skipped = counts.notSv + counts.otherLink;
      process.stderr.write(
        `${file}: ${counts.packets} packets, ${counts.svFrames} SV frames, ${counts.asdus} ASDUs` +
          (counts.warnedFrames ? `, ${counts.warnedFrames} with a warning` : "") +
          (counts.errorFrames ? `, ${counts.errorFrames} undecodable` : "") +
          (skipped && !o.all
            ? `, ${skipped} non-SV skipped (--all lists them)`
            : skipped
              ? `, ${skipped} non-SV`
              : "") +
          "\n",
      );
      if (counts.otherLink > 0 && counts.svFrames === 0)
        process.stderr.write(`svtrace: ${file}: link type not decodable (only Ethernet and Linux SLL)\n`);
    });
}
