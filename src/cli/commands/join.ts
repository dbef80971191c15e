/**
 * `svtrace join HOST VM --clock START.json [--clock END.json] --out OUT`: the manual two-record path of a real
 * VM. A hypervisor record and a vm record (taken on two kernels, two clocks) are joined per SV into one record,
 * the guest's times mapped onto the host's clock from `svtrace lab clock` rounds. Thin layer over
 * src/record/clock-join.ts.
 */
import { readFileSync } from "node:fs";
import type { Command } from "@commander-js/extra-typings";
import { fail } from "../../errors.js";
import { roundFromJson } from "../../lab/guest-clock.js";
import { formatCrossClock } from "../../live/qemu-record.js";
import { joinAcrossClocks } from "../../record/clock-join.js";
import { ClockMapping } from "../../record/clock-sync.js";
import { openRecordFile } from "../../record/open.js";
import { openRecordWriter } from "../../record/writer.js";

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function register(program: Command): void {
  program
    .command("join")
    .description(
      "join a host (hypervisor) record and a guest (vm) record per SV, the guest's clock mapped onto the host's",
    )
    .argument("<host>", "record taken on the host (svtrace record --machine hypervisor)")
    .argument("<guest>", "record taken in the guest (svtrace record --machine vm)")
    .option(
      "--clock <file>",
      "a clock round from svtrace lab clock --out (give the one before and the one after)",
      collect,
      [],
    )
    .requiredOption("--out <file>", "joined record to write (Arrow)")
    .addHelpText(
      "after",
      `
The guest record's times (its monotonic clock plus the offset it recorded) are put on the host's clock: the
first and last rounds give the offset and the drift, the slower of their fastest round trips halved is the ±
on every segment that crosses the two clocks (stored in the joined record's metadata, shown by svtrace report).

Example (qemu lab):
  sudo svtrace lab clock --out start.json
  sudo ip netns exec svt-hyp svtrace record --machine hypervisor --iface hyp-in --tap vnet0 --qemu-pid PID --out hyp.arrow &
  sudo svtrace lab exec -- svtrace record --machine vm --iface eth0 --out /run/svtrace/lab-svt-/guest/vm.arrow
  sudo svtrace lab clock --out end.json
  svtrace join hyp.arrow /run/svtrace/lab-svt-/guest/vm.arrow --clock start.json --clock end.json --out joined.arrow
  svtrace report joined.arrow
`,
    )
    .action(async (hostPath, guestPath, o) => {
      if (o.clock.length === 0)
        fail("give the clock rounds: --clock START.json [--clock END.json] (svtrace lab clock --out)");
      const rounds = o.clock.map((f) => {
        let text: string;
        try {
          text = readFileSync(f, "utf8");
        } catch (e) {
          fail(`cannot read ${f}: ${(e as Error).message}`);
        }
        return roundFromJson(text, f);
      });
      const host = openRecordFile(hostPath);
      const guest = openRecordFile(guestPath);
      if (guest.meta.profile !== "vm" && host.meta.profile === "vm")
        fail(`${hostPath} is the vm record: give the host (hypervisor) record first, then the guest's`);
      let joined: ReturnType<typeof joinAcrossClocks>;
      try {
        joined = joinAcrossClocks(host, guest, new ClockMapping(rounds));
      } catch (e) {
        fail((e as Error).message);
      }
      const w = openRecordWriter(o.out, "arrow", joined.meta);
      try {
        for (const b of joined.input.batches()) w.appendColumns(b);
      } finally {
        joined.input.close();
        await w.close(joined.meta);
      }
      process.stderr.write(
        `svtrace: joined ${w.rows} SVs into ${o.out}\n${formatCrossClock(joined.meta.crossClock!)}\n`,
      );
    });
}
