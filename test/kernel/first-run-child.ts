/**
 * Runs inside a private mount namespace (`unshare -m --propagation private`, started by first-run.test.ts):
 * unmounts every tracefs/debugfs there, as on a machine where tracing was never mounted, hides /run/svtrace
 * under an empty tmpfs, then runs what a first run runs: a tracer command through the CLI, and the bpftrace
 * compile checks. Prints one JSON object with what it saw; the host's mounts are untouched.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const compileChecks = fileURLToPath(new URL("./bpftrace-generate.test.js", import.meta.url));

/** Mount points of tracefs and debugfs in this namespace, deepest first. */
function tracingMounts(): string[] {
  return readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f[2] === "tracefs" || f[2] === "debugfs")
    .map((f) => f[1])
    .sort((a, b) => b.length - a.length);
}

function unmountTracing(): string[] {
  const errors: string[] = [];
  for (let i = 0; i < 10 && tracingMounts().length > 0; i++)
    for (const m of tracingMounts()) {
      const r = spawnSync("umount", [m], { encoding: "utf8" });
      if (r.status !== 0) errors.push(`umount ${m}: ${r.stderr.trim()}`);
    }
  return errors;
}

const out: Record<string, unknown> = {};
out.umountErrors = unmountTracing();
out.mountsBefore = tracingMounts();
out.eventsBefore = existsSync("/sys/kernel/tracing/events");
// /run/svtrace as on a machine where the lab never ran
spawnSync("mount", ["-t", "tmpfs", "none", "/run"], { encoding: "utf8" });
out.runSvtraceBefore = existsSync("/run/svtrace");

const dir = mkdtempSync(join(tmpdir(), "svt-first-run-"));
try {
  const rec = join(dir, "first.csv");
  const r = spawnSync(
    process.execPath,
    [cli, "record", "--machine", "vm", "--iface", "lo", "--duration", "1", "--format", "csv", "--out", rec],
    { encoding: "utf8", timeout: 120_000 },
  );
  out.record = {
    code: r.status,
    stderr: r.stderr,
    header: existsSync(rec) ? readFileSync(rec, "utf8") : null,
  };
  out.mountsAfterRecord = tracingMounts();
  const status = spawnSync(process.execPath, [cli, "lab", "status", "--json"], { encoding: "utf8" });
  out.labStatus = { code: status.status, stdout: status.stdout, stderr: status.stderr };

  // again from nothing: the compile checks mount what they need themselves
  out.umountErrors2 = unmountTracing();
  out.mountsBeforeChecks = tracingMounts();
  // a test run of its own, not a subtest of the runner that started us (which sets NODE_TEST_CONTEXT)
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const t = spawnSync(process.execPath, ["--test", compileChecks], {
    encoding: "utf8",
    timeout: 600_000,
    env,
  });
  out.checks = {
    code: t.status,
    tail: t.stdout.split("\n").slice(-12).join("\n"),
    stderr: t.stderr.slice(-2000),
  };
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(out)}\n`);
