/**
 * The libbpf loader writes and reads the BPF object's structs by byte offset: its offsets and sizes must be the
 * compiled object's, read here from the object's BTF with bpftool (no root, no kernel) for every struct the
 * object's BTF describes. Also the read-only
 * configuration image of a lab-like point list, field by field.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { bpfObjectPath, configImage, POINT_CFG_OFFSETS, STRUCT_SIZES } from "../src/libbpf/runner.js";
import type { ProbePoint } from "../src/probes/catalogue.js";

function btfStructs(): Map<string, { size: number; members: Map<string, number> }> {
  const r = spawnSync("bpftool", ["btf", "dump", "file", bpfObjectPath(), "format", "raw"], {
    encoding: "utf8",
  });
  assert.equal(
    r.status,
    0,
    `bpftool btf dump of ${bpfObjectPath()} (npm run build:bpf builds it): ${r.stderr}`,
  );
  const out = new Map<string, { size: number; members: Map<string, number> }>();
  let cur: { size: number; members: Map<string, number> } | undefined;
  for (const line of r.stdout.split("\n")) {
    const s = /^\[\d+\] STRUCT '(\w+)' size=(\d+)/.exec(line);
    if (s) {
      cur = { size: Number(s[2]), members: new Map() };
      out.set(s[1], cur);
      continue;
    }
    const m = /^\s+'(\w+)' type_id=\d+ bits_offset=(\d+)/.exec(line);
    if (m && cur) cur.members.set(m[1], Number(m[2]) / 8);
    else if (!line.startsWith("\t")) cur = undefined;
  }
  return out;
}

test("the loader's struct sizes and point_cfg offsets are the compiled object's (BTF)", () => {
  const structs = btfStructs();
  // the ring-buffer records (event, stream_event) have no BTF (no map or global names their type): their
  // layout is checked end to end by test/kernel/tracer-backends-agree.test.ts, rows equal to bpftrace's
  for (const name of ["point_cfg", "config", "slot_key", "slot", "svid_key"] as const)
    assert.equal(structs.get(name)?.size, STRUCT_SIZES[name], `struct ${name} size`);
  const pc = structs.get("point_cfg");
  for (const [field, off] of Object.entries(POINT_CFG_OFFSETS))
    assert.equal(pc?.members.get(field), off, `point_cfg.${field} offset`);
  assert.equal(structs.get("config")?.members.get("pt"), 16, "config.pt offset");
  // record --context: the flag, the wait threshold, and the per-point context the rows carry
  assert.equal(structs.get("config")?.members.get("context"), 12, "config.context offset");
  assert.equal(
    structs.get("config")?.members.get("wait_ns"),
    16 + 8 * STRUCT_SIZES.point_cfg,
    "config.wait_ns",
  );
  assert.equal(structs.get("point_ctx")?.size, STRUCT_SIZES.point_ctx, "struct point_ctx size");
  assert.equal(structs.get("ctx_slot")?.size, 8 + 8 * STRUCT_SIZES.point_ctx, "struct ctx_slot size");
  assert.equal(STRUCT_SIZES.event_ctx, STRUCT_SIZES.event + 8 * STRUCT_SIZES.point_ctx);
  const ctx = structs.get("point_ctx");
  assert.deepEqual(
    ["cpu", "tid", "comm", "run", "runnable", "sleep", "blocker", "blocker_comm", "flags"].map((m) =>
      ctx?.members.get(m),
    ),
    [0, 4, 8, 24, 28, 32, 36, 40, 56],
    "point_ctx offsets (the session reads them as words 0, 1, 2-5, 6, 7, 8, 9, 10-13, 14)",
  );
});

test("configImage: context flag and wait threshold", () => {
  const p: ProbePoint = { name: "T1", label: "T1", attach: "tracepoint:net:netif_receive_skb", filter: {} };
  const off = configImage([p], true, false);
  assert.equal(off.readUInt32LE(12), 0);
  assert.equal(off.readBigUInt64LE(16 + 8 * STRUCT_SIZES.point_cfg), 0n);
  const on = configImage([p], true, false, { waitNs: 200_000 });
  assert.equal(on.readUInt32LE(12), 1);
  assert.equal(on.readBigUInt64LE(16 + 8 * STRUCT_SIZES.point_cfg), 200_000n);
});

test("configImage: the points' filters in .rodata.cfg", () => {
  const points: ProbePoint[] = [
    {
      name: "T1",
      label: "T1",
      attach: "tracepoint:net:netif_receive_skb",
      filter: { dev: "hyp-in", netns: { inode: 4026532000, via: "dev" } },
    },
    {
      name: "T4",
      label: "T4",
      attach: "tracepoint:skb:skb_copy_datagram_iovec",
      filter: { commPrefix: "vhost-", tids: [11, 12], netns: { inode: 7, via: "task" } },
    },
  ];
  const b = configImage(points, false, true);
  assert.equal(b.length, STRUCT_SIZES.config);
  assert.deepEqual([b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8)], [2, 0, 1]);
  const o = POINT_CFG_OFFSETS;
  const p0 = 16;
  const p1 = 16 + STRUCT_SIZES.point_cfg;
  assert.equal(b.readUInt32LE(p0 + o.attach), 1);
  assert.equal(b.readUInt32LE(p0 + o.netns_via), 1);
  assert.equal(b.readBigUInt64LE(p0 + o.netns), 4026532000n);
  assert.equal(b.readUInt32LE(p0 + o.has_dev), 1);
  assert.equal(b.toString("latin1", p0 + o.dev, p0 + o.dev + 7), "hyp-in\0");
  assert.equal(b.readUInt32LE(p0 + o.comm_mode), 0);
  assert.equal(b.readUInt32LE(p1 + o.attach), 6);
  assert.equal(b.readUInt32LE(p1 + o.netns_via), 2);
  assert.equal(b.readUInt32LE(p1 + o.has_dev), 0);
  assert.equal(b.readUInt32LE(p1 + o.comm_mode), 2);
  assert.equal(b.readUInt32LE(p1 + o.comm_len), 6);
  assert.equal(b.toString("latin1", p1 + o.comm, p1 + o.comm + 6), "vhost-");
  assert.deepEqual(
    [b.readUInt32LE(p1 + o.n_tids), b.readUInt32LE(p1 + o.tids), b.readUInt32LE(p1 + o.tids + 4)],
    [2, 11, 12],
  );
  // unused point slots stay zero: the program ignores them
  assert.ok(b.subarray(16 + 2 * STRUCT_SIZES.point_cfg).every((x) => x === 0));
});
