/**
 * `svtrace publish` with bad input: one-line error, non-zero exit, and nothing sent — checked by a subscriber
 * listening on `lo` of a private namespace the whole time (bad calls publish on that same `lo`).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { assertRoot, cliMain, runCli } from "../helpers.js";
import {
  deleteNetns,
  makeNetns,
  parseSubscribe,
  type RunningSubscriber,
  startSubscriber,
  stopStrays,
} from "./pubsub-lab-support.js";

describe("publish rejects bad input and sends nothing", () => {
  let ns = "";
  let sub: RunningSubscriber | undefined;
  before(async () => {
    assertRoot("publish tests (AF_PACKET, network namespaces)");
    ns = makeNetns("perr");
    sub = await startSubscriber(["--iface", "lo", "--netns", ns, "--json"]);
  });
  after(async () => {
    if (sub) {
      sub.stop();
      await sub.done;
    }
    stopStrays();
    if (ns) deleteNetns(ns);
  });

  const base = () => ["publish", "--iface", "lo", "--netns", ns, "--count", "100"];
  const cases: [string, () => string[], RegExp][] = [
    [
      "unknown interface",
      () => ["publish", "--iface", "nosuch0", "--netns", ns, "--count", "100"],
      /unknown interface nosuch0/,
    ],
    [
      "unknown namespace",
      () => ["publish", "--iface", "lo", "--netns", "h4t-nosuch", "--count", "10"],
      /network namespace h4t-nosuch/,
    ],
    ["stream count 0", () => [...base(), "--streams", "0"], /--streams must be between 1 and 64/],
    ["stream count 100000", () => [...base(), "--streams", "100000"], /--streams must be between 1 and 64/],
    ["svID over 34 bytes", () => [...base(), "--svids", `A${"b".repeat(34)}`], /at most 34/],
    ["non-ASCII svID", () => [...base(), "--svids", "MU1,MÜ2"], /not printable ASCII/],
    ["bad source MAC", () => [...base(), "--src", "c4:b5:12:00:00:zz"], /--src: not a MAC address/],
    ["bad destination MAC", () => [...base(), "--dst", "01-0c-cd-04-00"], /--dst: not a MAC address/],
    ["bad VLAN", () => [...base(), "--vlan", "5000"], /--vlan must be between 0 and 4095/],
    ["bad priority", () => [...base(), "--vlan", "1", "--prio", "8"], /--prio must be between 0 and 7/],
    ["duration and count", () => [...base(), "--duration", "1"], /either --duration or --count/],
    [
      "skip-smpcnt out of range",
      () => [...base(), "--skip-smpcnt", "1,4000"],
      /--skip-smpcnt must be between 0 and 3999/,
    ],
    ["bad SCHED_FIFO priority", () => [...base(), "--priority", "0"], /--priority must be between 1 and 99/],
    ["CPU that does not exist", () => [...base(), "--cpu", "1000"], /cannot pin the sender to CPU 1000/],
    ["duplicate svIDs", () => [...base(), "--svids", "A,A"], /same svID twice/],
  ];
  for (const [name, args, re] of cases) {
    test(name, () => {
      const r = runCli(args());
      assert.notEqual(r.code, 0, `exit code for ${name}`);
      assert.match(r.stderr, re);
      assert.match(r.stderr, /^svtrace: /);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
      assert.equal(r.stdout, "");
    });
  }

  test("not root: one-line error naming the missing privilege", () => {
    for (const args of [
      ["publish", "--iface", "lo", "--count", "5"],
      ["subscribe", "--iface", "lo", "--netns", ns],
    ]) {
      const r = spawnSync(
        "setpriv",
        ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, cliMain, ...args],
        { encoding: "utf8", timeout: 60_000 },
      );
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /^svtrace: .*(run as root|needs root)/);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });

  test("nothing reached the subscriber", async () => {
    // a good publish afterwards proves the subscriber was really listening
    const ok = runCli([...base(), "--json"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).sent, 100);
    await new Promise((r) => setTimeout(r, 200));
    sub?.stop();
    const s = parseSubscribe(await (sub as RunningSubscriber).done);
    sub = undefined;
    assert.equal(s.received, 100, "only the 100 frames of the good call arrived");
    assert.equal(s.streams.length, 1);
    assert.equal(s.streams[0].first_smpCnt, 0);
  });
});
