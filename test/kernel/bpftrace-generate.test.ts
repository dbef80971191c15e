/**
 * The bpftrace program generator: the text it produces (exact svID comparison, TLV walk, one block per
 * attach point, stale bound, clock choice) and, on the real kernel, that bpftrace compiles and attaches the
 * program of every profile and variant (the program exits in BEGIN right after its READY line).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { detectBpftrace, featuresForVersion, parseBpftraceVersion } from "../../src/bpftrace/features.js";
import {
  DRAIN_MS,
  generateProgram,
  MAX_POINTS,
  RING_ROWS,
  rowsPerEvent,
  STALE_PERIODS,
  sizeFor,
} from "../../src/bpftrace/generate.js";
import type { ProbePoint } from "../../src/probes/catalogue.js";
import { resolveProfile } from "../../src/probes/profiles.js";
import { tracingPreflight } from "../../src/trace/preflight.js";
import { assertRoot } from "../helpers.js";

const v017 = featuresForVersion("bpftrace", "0.17.0", 0, 17);
const v021 = featuresForVersion("bpftrace", "0.21.2", 0, 21);
const pt = (name: string, attach: ProbePoint["attach"], dev: string): ProbePoint => ({
  name,
  label: `${name} ${dev}`,
  attach,
  filter: { dev, netns: { inode: 4026531840, via: "dev" } },
});
const FOUR: ProbePoint[] = [
  pt("T1", "tracepoint:net:netif_receive_skb", "hyp-in"),
  pt("T2", "tracepoint:net:net_dev_start_xmit", "hyp-out"),
  pt("T3", "tracepoint:net:netif_receive_skb", "vm0"),
  {
    name: "T4",
    label: "T4 read",
    attach: "tracepoint:skb:skb_copy_datagram_iovec",
    filter: { comm: "svt-sub", netns: { inode: 4026531840, via: "task" } },
  },
];

describe("generator text", () => {
  it("compares svIDs exactly (length and bytes), never by byte sum", () => {
    const g = generateProgram({
      points: FOUR,
      streams: ["svID0001", "svID0010", "svID0100"],
      features: v017,
      clock: "realtime",
    });
    assert.match(g.text, /if \(\$vl == 8 && \$sv == "svID0001"\) \{ \$s = 1; \}/);
    assert.match(g.text, /else if \(\$vl == 8 && \$sv == "svID0010"\) \{ \$s = 2; \}/);
    assert.match(g.text, /else if \(\$vl == 8 && \$sv == "svID0100"\) \{ \$s = 3; \}/);
    assert.doesNotMatch(g.text, /sum_sv|\+= \*\(uint8/);
    assert.deepEqual(g.streams, ["svID0001", "svID0010", "svID0100"]);
  });

  it("emits one probe block per attach point, with the points that share it told apart", () => {
    const g = generateProgram({ points: FOUR, features: v017, clock: "realtime" });
    const blocks = g.text.split("\n").filter((l) => /^(tracepoint|kprobe):/.test(l));
    assert.deepEqual(blocks, [
      "tracepoint:net:netif_receive_skb",
      "tracepoint:net:net_dev_start_xmit",
      "tracepoint:skb:skb_copy_datagram_iovec",
    ]);
    assert.match(g.text, /if \(\$dn == "hyp-in" && .*\) \{ \$pt = 1; \}/);
    assert.match(g.text, /else if \(\$dn == "vm0" && .*\) \{ \$pt = 3; \}/);
    // the extraction template appears once per block: never pasted per point
    assert.equal(g.text.match(/the ASDU after svID/g)?.length, 3);
    // with no stream list each svID gets a number, keyed by the exact string, announced once by an S line
    assert.match(
      g.text,
      /\$sw = @sid\[\$sv, \$pt\];\n\s*\$s = \$sw\.0;\n\s*\$wv = \$sw\.1;/,
      "one lookup: number and word",
    );
    assert.match(g.text, /\$s = @sid\[\$sv, 0\]\.0;/, "a point new to the stream finds its number");
    assert.match(g.text, /\$s = \(\$sn << 16\) \| \$c;/, "ids are per CPU: two CPUs never give out the same");
    assert.match(g.text, /printf\("S %llu %s\\n", \$s, \$sv\);/);
  });

  it("walks the TLVs with long and non-minimal BER lengths, reads refrTm, handles the VLAN tag", () => {
    const g = generateProgram({ points: FOUR, features: v017, clock: "realtime" });
    assert.match(g.text, /if \(\$b == 0x81\) \{ \$L = \(\$w >> 16\) & 0xff; \$h = 3; \}/);
    assert.match(g.text, /if \(\$b == 0x82\) \{ \$L = /);
    assert.match(g.text, /if \(\$tg == 0x81\) \{/, "optional security / datSet skipped");
    assert.match(g.text, /if \(\$tg != 0x82 \|\| \$L != 2\) \{ return; \}/);
    assert.match(g.text, /if \(\$tg == 0x84 && \$L == 8\) \{ \$rt = /);
    // the common layout (short forms, no security, no datSet) is read 8 bytes at a time, the rest walked
    assert.match(g.text, /\(\(\$x >> 16\) & 0xffff\) == 0x0180 && \(\(\$x >> 40\) & 0x80ff\) == 0x00a2/);
    assert.match(g.text, /\$fa = \(\$x & 0xffff\) == 0x0282 && \(\(\$x >> 32\) & 0xffff\) == 0x0483;/);
    // refrTm is read only where the last point is (it alone prints it): one block of three
    assert.equal(
      g.text.match(/\$rt = \(uint64\)bswap/g)?.length,
      2,
      "fast path and walk, in the T4 block only",
    );
    assert.match(g.text, /if \(\(\$w & 0xffff\) == 0x0081\) \{ \$e = 16;/);
    assert.ok(
      g.text.includes("$lp = $smp + ($pt == 1 ? $na : 1);"),
      "next frame expected noASDU samples later",
    );
    assert.match(g.text, /if \(\$pt == 1 && \$nx != 0 && \$nx != \$smp\) \{ printf\("D /);
  });

  it(`keeps waiting SVs in one slot per iteration modulo ${STALE_PERIODS}: a taken slot is printed as incomplete`, () => {
    const g = generateProgram({ points: FOUR, features: v017, clock: "realtime" });
    // one read of the slot per SV tells a duplicate, a stale SV of another iteration, or a free slot; the code
    // is written once per attach block (3 blocks), the point in $pt
    assert.equal(g.text.match(/\$pv = @p\[\$s, \$smp, \$it % 4\];/g)?.length, 3);
    assert.ok(
      g.text.includes(
        'if ($pv.0 == $it && ($pt == 1 ? $pv.1 : ($pv.3)) != 0) { printf("U %llu %llu %llu\\n", $pt, $smp, $s); return; }',
      ),
    );
    assert.ok(
      g.text.includes(
        'printf("I %llu %llu %llu 0 %llu %llu %llu 0 %llu\\n", $smp, $pv.0, $appid, $pv.1, $pv.2, $pv.3, $s);',
      ),
    );
    // each point writes its own time into the slot and keeps the others' (of the same iteration)
    const kept = (j: number) => `($pv.0 == $it ? $pv.${j} : (uint64)0)`;
    assert.ok(
      g.text.includes(
        `@p[$s, $smp, $it % 4] = ($it, ($pt == 1 ? $now : ${kept(1)}), ${kept(2)}, ($pt == 3 ? $now : ${kept(3)}));`,
      ),
    );
    assert.ok(g.text.includes(`@p[$s, $smp, $it % 4] = ($it, ${kept(1)}, $now, ${kept(3)});`));
    // the last point takes the times of its own iteration only, and frees the slot
    assert.match(
      g.text,
      /if \(\$pv\.0 == \$it\) \{\n\s*\$a1 = \$pv\.1;\n\s*\$a2 = \$pv\.2;\n\s*\$a3 = \$pv\.3;\n\s*delete\(@p\[\$s, \$smp, \$it % 4\]\);/,
    );
    // every point counts its own smpCnt wraps in its word (number and word in one value per svID and point)
    assert.equal(g.text.match(/@sid\[\$sv, \$pt\] = \(\$s, \(\$it << 32\) \| \$lp\);/g)?.length, 3);
    assert.ok(
      g.text.includes("if ($pt == 1 || $smp + 1 >= $lp + 16) {"),
      "the first point's word follows every SV",
    );
    assert.match(g.text, /^END$/m);
    assert.match(g.text, /print\(@p\);/);
    assert.match(g.text, /clear\(@p\);/);
    // with a stream list the words are keyed by the stream index
    const listed = generateProgram({ points: FOUR, streams: ["a", "b"], features: v017, clock: "realtime" });
    assert.equal(listed.text.match(/@w\[\$s, \$pt\] = \(\$it << 32\) \| \$lp;/g)?.length, 3);
    assert.doesNotMatch(listed.text, /@sid/);
  });

  it("queues complete SVs packed in per-CPU rings that a timer probe drains, several rows per printf", () => {
    const g = generateProgram({ points: FOUR, features: v017, clock: "realtime", cpus: 6 });
    const k = rowsPerEvent(4);
    assert.ok(k >= 4, `${k} rows per event`);
    // each row is read from the ring once (a tuple copy), not once per field
    assert.ok(g.text.includes("$r1 = @b[$c, ($t + 1) % 8192];"));
    assert.doesNotMatch(g.text, /@b\[[^\]]*\]\.\d/);
    assert.match(g.text, /\$A = \$smp \| \(\$appid << 16\) \| \(\$it << 32\);/);
    assert.match(g.text, /\$P0 = \$d1 \| \(\$d2 << 32\);/);
    assert.match(g.text, /\$P1 = \$d3;/);
    // the last point only queues: @b[cpu, head % RING_ROWS], head in @bh[cpu]
    assert.match(g.text, new RegExp(`@b\\[\\$c, \\$bi % ${RING_ROWS}\\] = \\(\\(uint64\\)\\$A, `));
    assert.match(g.text, /@bh\[\$c\] = \$bi \+ 1;/);
    // drain probes (timer, hard interrupt context: one IPI per run), 4 CPUs each: 6 CPUs -> two probes
    assert.equal(g.text.match(new RegExp(`^interval:ms:${DRAIN_MS}$`, "gm"))?.length, 2);
    assert.match(g.text, /\$c = \(uint64\)4;\n {2}while \(\$c < 6\)/);
    const row = "R %llu %llu %llu %llu %llu %llu\\n";
    assert.ok(g.text.includes(`printf("${row.repeat(k)}"`), "one printf carries k packed rows");
    assert.match(
      g.text,
      new RegExp(`printf\\("O %llu %llu\\\\n", \\$c, \\$hd - \\$t - ${RING_ROWS}\\)`),
      "overruns are said",
    );
    // a delta that does not fit 32 bits (or a point after the last one) is printed unpacked at once
    assert.match(
      g.text,
      /\(\$a1 != 0 && \(\$a1 > \$now \|\| \$now - \$a1 >= 0xfffffffe\)\)/,
      "a point that did not see it is no reason",
    );
    assert.match(g.text, /printf\("F %llu %llu %llu %llu %llu %llu %llu %llu %llu\\n"/);
    // what is still queued at exit is printed by END
    assert.match(g.text, /print\(@bh\);\n {2}print\(@bt\);\n {2}print\(@b\);/);
    // the ring maps fit: never fewer map keys than RING_ROWS per CPU
    assert.equal(sizeFor(4000, 1000, 6).mapKeys, 6 * RING_ROWS);
  });

  it("opens with a comment saying what it measures", () => {
    const g = generateProgram({ points: FOUR, features: v017, clock: "realtime", profile: "lab" });
    assert.match(g.text, /^\/\*\n \* svtrace: latency of IEC 61850-9-2 Sampled Values/);
    assert.match(g.text, /point 4: T4 read/);
  });

  it("uses nsecs(tai) only when bpftrace has it and TAI is asked for", () => {
    assert.equal(generateProgram({ points: FOUR, features: v017, clock: "tai" }).timeSource, "monotonic");
    assert.doesNotMatch(generateProgram({ points: FOUR, features: v017, clock: "tai" }).text, /nsecs\(tai\)/);
    const g = generateProgram({ points: FOUR, features: v021, clock: "tai" });
    assert.equal(g.timeSource, "tai");
    assert.match(g.text, /\$now = nsecs\(tai\);/);
    assert.equal(
      generateProgram({ points: FOUR, features: v021, clock: "realtime" }).timeSource,
      "monotonic",
    );
  });

  it("rejects what it cannot match exactly", () => {
    assert.throws(
      () => generateProgram({ points: FOUR, streams: ['a"b'], features: v017, clock: "realtime" }),
      /cannot match/,
    );
    assert.throws(
      () => generateProgram({ points: FOUR, streams: ["x".repeat(64)], features: v017, clock: "realtime" }),
      /longer than 63/,
    );
    assert.throws(
      () => generateProgram({ points: FOUR, streams: ["a", "a"], features: v017, clock: "realtime" }),
      /twice/,
    );
    const many = Array.from({ length: MAX_POINTS + 1 }, (_, i) =>
      pt(`T${i}`, "tracepoint:net:netif_rx", `d${i}`),
    );
    assert.throws(() => generateProgram({ points: many, features: v017, clock: "realtime" }), /at most/);
  });

  it("sizes maps and perf buffers from the rate, honouring an override", () => {
    const s = sizeFor(32_000, undefined, 2);
    assert.equal(s.mapKeys, 163_840);
    assert.equal(s.perfPages, 4096);
    assert.equal(s.env.BPFTRACE_PERF_RB_PAGES, "4096");
    assert.equal(s.env.BPFTRACE_MAP_KEYS_MAX, "163840");
    assert.equal(s.env.BPFTRACE_MAX_MAP_KEYS, "163840");
    assert.equal(sizeFor(4000, undefined, 2).perfPages, 512);
    assert.equal(sizeFor(4000, undefined, 2).mapKeys, 20_480);
    assert.equal(sizeFor(4000, 100_000, 2).mapKeys, 100_000);
    assert.equal(sizeFor(4000, undefined, 4).mapKeys, 4 * RING_ROWS, "the row rings of 4 CPUs need more");
  });

  it("parses bpftrace versions", () => {
    assert.deepEqual(parseBpftraceVersion("bpftrace v0.17.0\n"), { version: "0.17.0", major: 0, minor: 17 });
    assert.deepEqual(parseBpftraceVersion("bpftrace v0.21.2-12-gabc"), {
      version: "0.21.2",
      major: 0,
      minor: 21,
    });
    assert.equal(parseBpftraceVersion("nope"), undefined);
  });
});

/** Run a generated program that exits in BEGIN; returns what bpftrace said and how long it took. */
function attachAndExit(
  text: string,
  env: Record<string, string>,
): { code: number | null; out: string; err: string; ms: number } {
  const dir = mkdtempSync(join(tmpdir(), "h5-bt-"));
  try {
    const f = join(dir, "p.bt");
    writeFileSync(f, text);
    const t = Date.now();
    const r = spawnSync("bpftrace", [f], {
      encoding: "utf8",
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr, ms: Date.now() - t };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("bpftrace accepts the program of every profile and variant", { timeout: 300_000 }, () => {
  const prefix = "h5g-";
  const made: string[] = [];
  before(() => {
    assertRoot("attaching bpftrace programs");
    // the same preflight every command goes through: mounts tracefs on a machine where it never was
    tracingPreflight();
    for (const ns of [`${prefix}hyp`, `${prefix}vm`]) {
      spawnSync("ip", ["netns", "del", ns]);
      const r = spawnSync("ip", ["netns", "add", ns], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      made.push(ns);
    }
  });
  after(() => {
    for (const ns of made) spawnSync("ip", ["netns", "del", ns]);
  });

  const features = () => detectBpftrace();
  const variants: { what: string; build: () => ProbePoint[]; streams?: string[] }[] = [
    {
      what: "lab bridge T1..T4, explicit streams",
      build: () => resolveProfile({ profile: "lab", labSwitch: "bridge", labPrefix: prefix }).points,
      streams: ["svID0001", "svID0010"],
    },
    {
      what: "lab bridge T1..T4, all streams",
      build: () => resolveProfile({ profile: "lab", labSwitch: "bridge", labPrefix: prefix }).points,
    },
    {
      what: "lab ovs",
      build: () => resolveProfile({ profile: "lab", labSwitch: "ovs", labPrefix: prefix }).points,
      streams: ["a"],
    },
    {
      what: "lab tap with T2b",
      build: () =>
        resolveProfile({
          profile: "lab",
          labSwitch: "tap",
          labPrefix: prefix,
          points: ["T1", "T2", "T2b", "T3", "T4"],
        }).points,
      streams: ["a", "bb"],
    },
    {
      what: "hypervisor T1, T2a, T2b (vhost- prefix)",
      build: () => resolveProfile({ profile: "hypervisor", iface: "lo", tap: "vnet7" }).points,
    },
    {
      what: "hypervisor with vhost tids",
      build: () => [
        ...resolveProfile({ profile: "hypervisor", iface: "lo" }).points.slice(0, 1),
        {
          name: "T2b",
          label: "T2b",
          attach: "tracepoint:skb:skb_copy_datagram_iovec",
          filter: { tids: [1, 2] },
        },
      ],
    },
    {
      what: "vm T3, T4 by thread name",
      build: () => resolveProfile({ profile: "vm", iface: "lo", appComm: "svt-sub" }).points,
      streams: ["x"],
    },
    ...[6, 7, MAX_POINTS].map((n) => ({
      what: `${n} points, all streams (the largest drain printf for that count)`,
      build: () => {
        const base = resolveProfile({
          profile: "lab",
          labSwitch: "tap",
          labPrefix: prefix,
          points: ["T1", "T2", "T2b", "T3", "T4"],
        }).points;
        return Array.from({ length: n }, (_, j) => {
          const b = base[j % base.length];
          const dev = b.filter.dev === undefined ? {} : { dev: `dev${j}` };
          return { ...b, name: `P${j + 1}`, filter: { ...b.filter, ...dev } };
        });
      },
    })),
    {
      what: "single point",
      build: () => resolveProfile({ profile: "vm", iface: "lo", points: ["T3"] }).points,
    },
  ];
  for (const v of variants) {
    it(v.what, (t) => {
      const g = generateProgram({
        points: v.build(),
        streams: v.streams,
        features: features(),
        clock: "realtime",
        exitInBegin: true,
      });
      const r = attachAndExit(g.text, sizeFor(8000).env);
      assert.equal(r.code, 0, `bpftrace rejected it: ${r.err}\n${g.text}`);
      assert.match(r.out, /^READY \d+$/m);
      assert.match(r.out, /Attaching \d+ probes/);
      t.diagnostic(`bpftrace start to exit: ${r.ms} ms`);
    });
  }
});
