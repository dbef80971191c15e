/**
 * `svtrace streams FILE`: one row per SV stream of a capture (svID + APPID + src + dst + VLAN) with counts,
 * rates, the smpCnt modulus and nominal rate, continuity (wraps, gaps, duplicates, out-of-order) and frame
 * inter-arrival statistics. Thin layer over src/streams/capture-streams.ts.
 */
import { statSync } from "node:fs";
import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";
import cliProgress from "cli-progress";
import { formatEpochNs, formatIsoNs } from "../../capture/time.js";
import { type CaptureStreams, captureStreams } from "../../streams/capture-streams.js";
import type { StreamStats } from "../../streams/stream-table.js";

const HELP = `
One row per stream. A stream is (svID, APPID, source MAC, destination MAC, VLAN id): streams that share MACs and
APPID (e.g. the seapath generator's) are told apart by svID.
Columns: frames and ASDUs; first/last capture time; frames/s and samples/s measured between the first and last
frame; smpCnt modulus and its nominal rate (50/60 Hz x 80/256 samples per cycle, 61869-9 rates, 65536 =
libiec61850's default) with how it was found: wrap = seen wrapping, rate = matches the measured samples/s,
max = guessed from the largest smpCnt (marked "?"); wraps; gaps (events) and missing samples; duplicates
(same smpCnt again, e.g. a frame captured twice); out-of-order (a late smpCnt that fills an earlier gap);
inter-arrival of the stream's frames min/p50/p99/max in µs.

--json prints one object: {"file","packets","svFrames","asdus","errorFrames","warnedFrames","notSv","otherLink","firstTime",
"lastTime","streams":[{"svID","appid","src","dst","vlanId","vlanPcp","frames","asdus","firstTime","lastTime",
"framesPerSecond","samplesPerSecond","modulus","modulusFrom","nominal","wraps","gaps","missing","duplicates",
"outOfOrder","invalid","interArrival":{"count","minUs","p50Us","p99Us","maxUs","meanUs","negative"}|null}]}
Times are epoch seconds with 9 decimals, as strings.

Examples:
  svtrace streams capture.pcap
  svtrace streams capture.pcapng --json | jq '.streams[] | {svID, missing, duplicates}'
  svtrace streams long-run.pcap --modulus 4000
`;

function modulusArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 2 || n > 65536) throw new InvalidArgumentError("give an integer 2..65536");
  return n;
}

function fmtNum(v: number | null, digits: number): string {
  return v === null ? "-" : v.toFixed(digits);
}

function pad(cells: string[][]): string[] {
  const widths: number[] = [];
  for (const row of cells) {
    for (let i = 0; i < row.length; i++) widths[i] = Math.max(widths[i] ?? 0, row[i].length);
  }
  return cells.map((row) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd(),
  );
}

function row(s: StreamStats): string[] {
  const ia = s.interArrival;
  const mod =
    s.modulus === null ? "?" : `${s.modulus}${s.modulusFrom === "max" ? "?" : ""} (${s.modulusFrom})`;
  return [
    s.svID,
    `0x${s.appid.toString(16).padStart(4, "0")}`,
    `${s.src} > ${s.dst ?? "?"}`,
    s.vlanId === null ? "-" : `${s.vlanId}/${s.vlanPcp}`,
    String(s.frames),
    String(s.asdus),
    formatIsoNs(s.firstNs),
    formatIsoNs(s.lastNs),
    fmtNum(s.framesPerSecond, 1),
    fmtNum(s.samplesPerSecond, 1),
    mod,
    s.nominal?.label ?? "-",
    String(s.wraps),
    `${s.gaps}/${s.missing}`,
    String(s.duplicates),
    String(s.outOfOrder),
    ia ? [ia.minUs, ia.p50Us, ia.p99Us, ia.maxUs].map((v) => v.toFixed(1)).join("/") : "-",
  ];
}

const HEADER = [
  "svID",
  "APPID",
  "src > dst",
  "VLAN",
  "frames",
  "ASDUs",
  "first",
  "last",
  "frames/s",
  "samples/s",
  "modulus",
  "nominal",
  "wraps",
  "gaps/missing",
  "dup",
  "ooo",
  "inter-arrival min/p50/p99/max µs",
];

export function streamsText(r: CaptureStreams): string {
  const head =
    `${r.file}: ${r.packets} packets, ${r.svFrames} SV frames, ${r.asdus} ASDUs, ${r.streams.length} stream(s)` +
    (r.warnedFrames ? `, ${r.warnedFrames} with a warning (svtrace decode shows it)` : "") +
    (r.errorFrames ? `, ${r.errorFrames} undecodable` : "") +
    (r.notSv ? `, ${r.notSv} not SV` : "") +
    (r.otherLink ? `, ${r.otherLink} of a link type that is not decoded (only Ethernet and Linux SLL)` : "");
  if (r.streams.length === 0) return `${head}\n`;
  return `${[head, ...pad([HEADER, ...r.streams.map(row)])].join("\n")}\n`;
}

export function streamsJson(r: CaptureStreams): string {
  const t = (ns: bigint | null) => (ns === null ? null : formatEpochNs(ns));
  return `${JSON.stringify({
    file: r.file,
    packets: r.packets,
    svFrames: r.svFrames,
    asdus: r.asdus,
    errorFrames: r.errorFrames,
    warnedFrames: r.warnedFrames,
    notSv: r.notSv,
    otherLink: r.otherLink,
    firstTime: t(r.firstNs),
    lastTime: t(r.lastNs),
    streams: r.streams.map(({ firstNs, lastNs, ...s }) => ({
      svID: s.svID,
      appid: s.appid,
      src: s.src,
      dst: s.dst,
      vlanId: s.vlanId,
      vlanPcp: s.vlanPcp,
      frames: s.frames,
      asdus: s.asdus,
      firstTime: t(firstNs),
      lastTime: t(lastNs),
      framesPerSecond: s.framesPerSecond,
      samplesPerSecond: s.samplesPerSecond,
      modulus: s.modulus,
      modulusFrom: s.modulusFrom,
      nominal: s.nominal?.label ?? null,
      wraps: s.wraps,
      gaps: s.gaps,
      missing: s.missing,
      duplicates: s.duplicates,
      outOfOrder: s.outOfOrder,
      invalid: s.invalid,
      interArrival: s.interArrival,
    })),
  })}\n`;
}

export function register(program: Command): void {
  program
    .command("streams")
    .description(
      "list the SV streams of a pcap/pcapng capture: counts, rates, smpCnt continuity, inter-arrival",
    )
    .argument("<file>", "pcap or pcapng capture")
    .option("--json", "one JSON object instead of a table")
    .option(
      "--modulus <n>",
      "assume this smpCnt modulus (e.g. 4000) instead of inferring it per stream",
      modulusArg,
    )
    .addHelpText("after", HELP)
    .action((file, o) => {
      let size = 0;
      try {
        size = statSync(file).size;
      } catch {
        // the reader reports the problem in one line
      }
      const bar =
        process.stderr.isTTY && size > 64 * 1024 * 1024
          ? new cliProgress.SingleBar(
              {
                stream: process.stderr,
                format: "reading [{bar}] {percentage}% {packets} packets",
                clearOnComplete: true,
              },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      bar?.start(size, 0, { packets: 0 });
      const warnings: string[] = [];
      let r: CaptureStreams;
      try {
        r = captureStreams(file, {
          modulus: o.modulus,
          onWarning: (w) => warnings.push(w),
          onProgress: (packets, bytes) => bar?.update(Math.min(bytes, size), { packets }),
        });
      } finally {
        bar?.stop();
      }
      for (const w of warnings) process.stderr.write(`svtrace: warning: ${file}: ${w}\n`);
      process.stdout.write(o.json ? streamsJson(r) : streamsText(r));
    });
}
