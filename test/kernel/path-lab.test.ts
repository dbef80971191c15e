/**
 * `svtrace path` on the lab, as a user runs it: bridge lab with the subscriber and a publisher running,
 * `svtrace path --lab --count 10` lists hyp-in receive, the bridge, hyp-out transmit, vm0 receive and the
 * subscriber's read, each with CPU and thread; --json gives one object per SV and the routes; in the OVS lab
 * the SVs cross ovs-vswitchd. Kprobes are absent on this kernel: the run says so.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { kprobesAvailable } from "../../src/probes/discovery.js";
import { assertRoot } from "../helpers.js";
import { kill, labDown, labUp, NS, type Running, start, startFifo, waitFor } from "./tracer-support.js";

interface SvJson {
  svID: string;
  smpCnt: number;
  events: {
    event: string;
    rel_ns: number;
    cpu: number;
    tid: number;
    comm: string;
    thread_kind: string;
    dev: string | null;
    netns_name: string | null;
  }[];
}
interface RoutesJson {
  routes: { count: number; steps: { event: string; dev: string | null; thread_kind: string }[] }[];
}

/** Lab up, subscriber and publisher running, then `svtrace path ARGS`; everything stopped and torn down. */
async function pathInLab(
  mode: "bridge" | "ovs",
  args: string[],
): Promise<{ stdout: string; stderr: string }> {
  labUp(mode);
  let sub: Running | undefined;
  let pub: Running | undefined;
  try {
    sub = startFifo(40, ["subscribe", "--iface", "vm0", "--netns", NS.vm]);
    await waitFor(sub, "listening");
    pub = start(["publish", "--iface", "pub0", "--netns", NS.pub, "--streams", "2", "--duration", "60"]);
    const r = await start(["path", "--lab", ...args], 120_000).done;
    assert.equal(r.code, 0, r.stderr);
    return { stdout: r.stdout, stderr: r.stderr };
  } finally {
    kill(pub);
    kill(sub);
    labDown();
  }
}

function parse(stdout: string): { svs: SvJson[]; routes: RoutesJson } {
  const lines = stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as SvJson | RoutesJson);
  const last = lines.pop() as RoutesJson;
  assert.ok(Array.isArray(last.routes), "the last line is the routes object");
  return { svs: lines as SvJson[], routes: last };
}

function find(sv: SvJson, event: string, dev: string | null) {
  return sv.events.find((e) => e.event === event && e.dev === dev);
}

test("bridge lab: path --count 10 lists hyp-in, br0, hyp-out, vm0 and the subscriber's read with CPU and thread", {
  timeout: 300_000,
}, async (t) => {
  assertRoot("svtrace path (bpftrace, the lab)");
  const text = await pathInLab("bridge", ["--count", "10"]);
  t.diagnostic(text.stdout.split("\n").slice(0, 16).join("\n"));
  assert.match(text.stdout, /^SV \S+ smpCnt \d+ appid 0x[0-9a-f]{4}: \d+ events over/m);
  assert.match(text.stdout, /route 1: \d+ SVs/);
  if (!kprobesAvailable()) assert.match(text.stderr, /kprobes: none on this kernel/);

  const { svs, routes } = parse((await pathInLab("bridge", ["--count", "10", "--json"])).stdout);
  assert.equal(svs.length, 10);
  for (const sv of svs) {
    const steps = [
      find(sv, "netif_receive_skb", "hyp-in"),
      find(sv, "netif_receive_skb", "br0"),
      find(sv, "net_dev_start_xmit", "hyp-out"),
      find(sv, "netif_receive_skb", "vm0"),
      sv.events.find((e) => e.event === "skb_copy_datagram_iovec" && e.comm === "svt-sub"),
    ];
    steps.forEach((e, i) => {
      assert.ok(e, `SV ${sv.svID}/${sv.smpCnt}: step ${i + 1} missing: ${JSON.stringify(sv.events)}`);
    });
    for (const e of steps) {
      assert.ok(e && Number.isInteger(e.cpu) && e.cpu >= 0 && e.tid > 0 && e.comm.length > 0);
    }
    // in time order, relative to the SV's first event
    assert.equal(sv.events[0].rel_ns, 0);
    for (let i = 1; i < sv.events.length; i++) assert.ok(sv.events[i].rel_ns >= sv.events[i - 1].rel_ns);
    const hypIn = steps[0];
    const vm0 = steps[3];
    const read = steps[4];
    assert.ok(hypIn && vm0 && read && hypIn.rel_ns <= vm0.rel_ns && vm0.rel_ns <= read.rel_ns);
    assert.equal(hypIn?.netns_name, NS.hyp);
    assert.equal(vm0?.netns_name, NS.vm);
  }
  assert.equal(
    routes.routes.reduce((a, r) => a + r.count, 0),
    10,
  );
});

test("OVS lab: the SVs cross ovs-vswitchd", { timeout: 300_000 }, async (t) => {
  assertRoot("svtrace path (bpftrace, the lab)");
  const { svs, routes } = parse((await pathInLab("ovs", ["--count", "10", "--json"])).stdout);
  t.diagnostic(JSON.stringify(routes.routes[0]));
  assert.equal(svs.length, 10);
  for (const sv of svs) {
    const out = find(sv, "net_dev_start_xmit", "hyp-out");
    assert.ok(out, `SV ${sv.svID}/${sv.smpCnt} never left on hyp-out: ${JSON.stringify(sv.events)}`);
    assert.equal(out.comm, "ovs-vswitchd");
    assert.equal(out.thread_kind, "switch");
  }
  assert.ok(routes.routes[0].steps.some((s) => s.thread_kind === "switch"));
});
