/**
 * `svtrace demo` end to end, as `./run demo` runs it (short duration): lab up, tracer, subscriber, publisher,
 * live output, summary, record, report, lab down; and Ctrl-C in the middle still takes the lab down.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { openRecordFile } from "../../src/record/open.js";
import { assertRoot, runCli } from "../helpers.js";
import { kill, PREFIX, type Running, start, waitFor } from "./tracer-support.js";

const dir = mkdtempSync(join(tmpdir(), "svt-demo-"));
before(() => {
  runCli(["lab", "down"]); // a lab left over by an earlier test would be reused and left up by the demo
});
after(() => {
  runCli(["lab", "down"]); // in case a test failed midway
  rmSync(dir, { recursive: true, force: true });
});

function labNamespaces(): string[] {
  return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter((n) => n.startsWith(PREFIX) && /(pub|hyp|vm)$/.test(n));
}

test("demo: 2 streams for 3 s -> summary, record, report, HTML, lab down", { timeout: 600_000 }, async () => {
  assertRoot("svtrace demo");
  assert.deepEqual(labNamespaces(), [], "no lab before the demo");
  const out = join(dir, "demo.arrow");
  let d: Running | undefined;
  try {
    d = start(["demo", "--duration", "3", "--streams", "2", "--out", out]);
    const r = await d.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /lab up \(bridge\)/);
    assert.match(r.stderr, /tracer attached/);
    assert.match(r.stderr, /lab down/);
    // the live view (plain lines when not a TTY), the summary, the report
    assert.match(r.stdout, /svID0000 received \d+/);
    assert.match(r.stdout, /publisher: sent 24000 SVs/);
    const sub = /subscriber: received (\d+), missing (\d+)/.exec(r.stdout);
    assert.ok(sub, "subscriber summary");
    assert.match(r.stdout, /svID0000: (\d+) SVs, (\d+) at every point/);
    assert.match(r.stdout, /Report of /);
    assert.match(r.stdout, /Thyp|T1-T2/);
    assert.match(r.stdout, new RegExp(`Record: ${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    const input = openRecordFile(out);
    let rows = 0;
    try {
      for (const b of input.batches()) rows += b.length;
    } finally {
      input.close();
    }
    assert.ok(rows >= 0.99 * 24000, `record rows ${rows}`);
    const html = out.replace(/\.arrow$/, ".html");
    assert.ok(existsSync(html), "HTML report");
    assert.match(readFileSync(html, "utf8"), /<svg/);
    assert.deepEqual(labNamespaces(), [], "lab down after the demo");
  } finally {
    kill(d);
  }
});

test("demo: Ctrl-C in the middle stops cleanly and takes the lab down", { timeout: 600_000 }, async () => {
  assertRoot("svtrace demo");
  const out = join(dir, "interrupted.arrow");
  let d: Running | undefined;
  try {
    d = start(["demo", "--duration", "60", "--streams", "1", "--out", out, "--no-html"]);
    await waitFor(d, "publishing", 300_000);
    assert.equal(labNamespaces().length, 3, "lab up while the demo runs");
    await new Promise((res) => setTimeout(res, 2000));
    d.child.kill("SIGINT");
    const r = await d.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /interrupted/);
    assert.match(r.stderr, /lab down/);
    assert.match(r.stdout, /stopped by abort/);
    assert.deepEqual(labNamespaces(), [], "lab down after Ctrl-C");
    assert.ok(existsSync(out));
  } finally {
    kill(d);
  }
});
