/**
 * The stream flags shared by `svtrace pcap generate` and `svtrace publish`, with their help text. The names are
 * fixed by the issue that introduced them (scripts depend on them); src/gen/stream-options.ts reads their values.
 */

/** Help text lines for the shared flags (used by both commands). */
export const STREAM_FLAGS: [flags: string, description: string][] = [
  ["--streams <n>", "number of streams, 1..64 (default 1)"],
  ["--freq <hz>", "power frequency 50 or 60 (default 50)"],
  ["--spc <n>", "samples per cycle 80 or 256 (default 80)"],
  ["--asdu <n>", "ASDUs (consecutive samples) per frame (default 1; 9-2LE 256 spc uses 8)"],
  ["--svid-prefix <s>", 'svID prefix (default "svID"); svID = prefix + zero-padded number'],
  ["--svid-digits <d>", "digits of the svID number, 1..8 (default 4)"],
  ["--start-id <n>", "number of the first stream's svID (default 0)"],
  ["--appid <hex>", "APPID in hex (default 4000)"],
  ["--appid-step <n>", "add n to the APPID for each further stream (default 0: all share it)"],
  ["--src <mac>", "source MAC (default c4:b5:12:00:00:01)"],
  ["--dst <mac>", "destination MAC (default 01:0c:cd:04:00:01)"],
  ["--mac-step <n>", "add n to the destination MAC's last octet for each further stream (default 0)"],
  ["--vlan <id>", "802.1Q VLAN id 0..4095 (0 = priority tag only; default: untagged)"],
  ["--prio <p>", "802.1Q priority 0..7 with --vlan (default 4)"],
  ["--i-rms <A>", "phase current RMS in A (default 1)"],
  ["--v-rms <V>", "phase voltage RMS in V (default 57)"],
  ["--simulate", "set the Simulate bit (Reserved1 bit 15)"],
  ["--smpsynch <n>", "smpSynch value: 0 none, 1 local, 2 global (default 2)"],
  ["--no-smpsynch", "omit the smpSynch field (ASN.1 OPTIONAL; Ed2 makes it mandatory)"],
  ["--conf-rev <n>", "confRev (default 1)"],
  ["--datset <ref>", "add the optional datSet field (e.g. MU01LD0/LLN0$PhsMeas1)"],
  ["--refrtm", "add the optional refrTm field (the sample time)"],
  ["--smprate", "add the optional smpRate field (samples per cycle)"],
  ["--smpmod <n>", "add the optional smpMod field (0 per cycle, 1 per second, 2 seconds per sample)"],
];
