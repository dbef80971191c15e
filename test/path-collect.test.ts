/**
 * `svtrace path` without the kernel: the path program is generated from the events catalogue with the shared
 * key extraction (one probe per event, the lab's netns filter, kfree_skb's reason); event lines are grouped per
 * SV by (svID, smpCnt) across skb copies, SVs in flight when tracing began are left out, only --count are kept;
 * routes group identical (event, device, thread kind) lists.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { routesOf } from "../src/analysis/path-routes.js";
import { generatePathProgram } from "../src/bpftrace/generate-path.js";
import { TRACEPOINT_EVENTS } from "../src/probes/events.js";
import { PathCollector, parsePathLine, threadKind } from "../src/trace/path-events.js";

test("the path program has one probe per event, the shared key extraction and the netns filter", () => {
  const text = generatePathProgram({
    events: [...TRACEPOINT_EVENTS],
    netns: [11, 22],
    anyNetnsComms: ["ovs-vswitchd"],
  });
  for (const e of TRACEPOINT_EVENTS) assert.ok(text.includes(`\n${e.attach}\n{`), e.attach);
  assert.equal(text.split("if (($w & 0xffff) != 0xba88) { return; }").length - 1, TRACEPOINT_EVENTS.length);
  assert.match(text, /if \(\$ns != 11 && \$ns != 22 && comm != "ovs-vswitchd"\) \{ return; \}/);
  assert.match(text, /printf\("E\\tkfree_skb\\t.*\(uint64\)args->reason, \$sv\);/);
  const xmit = text.slice(text.indexOf("tracepoint:net:net_dev_xmit\n"));
  assert.ok(
    xmit.slice(0, xmit.indexOf("\n}\n")).includes("$ns = @xns[cpu];"),
    "net_dev_xmit takes start_xmit's netns",
  );
  const one = generatePathProgram({ events: [...TRACEPOINT_EVENTS], streams: ["svID0001"] });
  assert.match(one, /if \(\$vl == 8 && \$sv == "svID0001"\) \{ \$s = 1; \}/);
  assert.doesNotMatch(one, /\$ns != /);
});

function line(
  event: string,
  ns: number,
  smp: number,
  comm = "svt-pub",
  dev = "hyp-in",
  sv = "svID0001",
): string {
  return [
    "E",
    event,
    String(ns),
    "1",
    "42",
    comm,
    dev,
    "4026532246",
    "ffff8881",
    String(smp),
    "16384",
    "0",
    sv,
  ].join("\t");
}

test("events are grouped per SV across copies; SVs in flight at the start are skipped; --count keeps the first", () => {
  assert.equal(parsePathLine("READY 12"), undefined);
  const e = parsePathLine(line("netif_receive_skb", 5000, 7, "svt-pub", "hyp-in", "svID 1"));
  assert.equal(e?.svID, "svID 1");
  assert.equal(e?.ns, 5000n);
  const c = new PathCollector({ count: 2, perStream: false, entry: (n) => n !== "skb_copy_datagram_iovec" });
  c.startAt(1000n);
  const lines = [
    line("netif_receive_skb", 900, 1), // before the start: in flight
    line("net_dev_start_xmit", 1100, 1),
    line("skb_copy_datagram_iovec", 1200, 0, "svt-sub", ""), // first seen at the read: in flight
    line("netif_receive_skb", 2000, 2),
    line("netif_receive_skb", 2500, 3),
    line("net_dev_start_xmit", 2100, 2, "ovs-vswitchd", "hyp-out"), // copy, other CPU, arrives late
    line("skb_copy_datagram_iovec", 9000, 2, "svt-sub", ""),
    line("net_dev_start_xmit", 2600, 3, "ovs-vswitchd", "hyp-out"),
    line("netif_receive_skb", 3000, 4), // over the count
  ];
  for (const l of lines) c.add(parsePathLine(l) as NonNullable<ReturnType<typeof parsePathLine>>);
  assert.ok(c.full);
  const paths = c.paths();
  assert.deepEqual(
    paths.map((p) => [p.smpCnt, p.events.map((x) => `${x.event}@${x.rel}`)]),
    [
      [2, ["netif_receive_skb@0", "net_dev_start_xmit@100", "skb_copy_datagram_iovec@7000"]],
      [3, ["netif_receive_skb@0", "net_dev_start_xmit@100"]],
    ],
  );
  assert.equal(paths[0].events[1].kind, "switch");
  const routes = routesOf(paths);
  assert.equal(routes.length, 2);
  assert.deepEqual(
    routes[0].steps.map((s) => `${s.event}|${s.dev}|${s.kind}`),
    ["netif_receive_skb|hyp-in|app", "net_dev_start_xmit|hyp-out|switch", "skb_copy_datagram_iovec||app"],
  );
  assert.equal(routes[0].latencyUs.max, 7);
  assert.equal(threadKind("ksoftirqd/1"), "ksoftirqd");
  assert.equal(threadKind("vhost-svt"), "forwarder");
});
