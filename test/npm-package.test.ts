/**
 * The npm package works as a user installs it: `npm pack` (prepack compiles src/) on a copy of the checkout
 * without dist/, then `npm install -g --prefix EMPTY ./svtrace-X.tgz`, then the installed `svtrace` prints its
 * version, decodes a capture exactly as the checkout's CLI does, and loads koffi's native module.
 * Needs no root; it is slow-ish (a full compile and an install from npm's cache).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "node:test";
import { capture, repoRoot, runCli } from "./helpers.js";

/** npm's environment without what `npm test` passes down (npm_config_prefix and the like). */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

/** Top-level entries of the checkout that are build output or local state, not sources. */
const NOT_SOURCES = new Set(["node_modules", "dist", ".git", "tmp", "out"]);

test("npm pack ships bin/ and the compiled CLI; the installed svtrace runs", () => {
  const tmp = mkdtempSync(join(tmpdir(), "svtrace-pack-"));
  try {
    // a copy of the checkout without dist/, as a fresh clone has it (and the checkout's dist/ stays untouched)
    const tree = join(tmp, "svtrace");
    cpSync(repoRoot, tree, {
      recursive: true,
      filter: (src) => {
        const rel = relative(repoRoot, src);
        const top = rel.split("/")[0];
        return rel === "" || !(NOT_SOURCES.has(top) || top.startsWith("dist-") || rel === "bench/out");
      },
    });
    symlinkSync(join(repoRoot, "node_modules"), join(tree, "node_modules"));
    const packed = JSON.parse(
      execFileSync("npm", ["pack", "--json", "--pack-destination", tmp, "--loglevel=error"], {
        cwd: tree,
        env: npmEnv(),
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      }),
    ) as { filename: string; files: { path: string }[] }[];
    const paths = packed[0].files.map((f) => f.path);
    for (const p of ["bin/svtrace.js", "package.json", "README.md", "dist/src/cli/main.js"])
      assert.ok(paths.includes(p), `${p} is in the package`);
    assert.ok(
      paths.some((p) => p === "dist/src/net/afpacket.js"),
      "the publisher's packet socket is in the package",
    );
    const unwanted = paths.filter(
      (p) => /^(src|test|bench|dist\/test|dist\/bench)\//.test(p) || /\.(ts|map)$/.test(p),
    );
    assert.deepEqual(unwanted, [], "no sources, tests, bench or source maps");

    const prefix = join(tmp, "prefix");
    execFileSync(
      "npm",
      [
        "install",
        "-g",
        "--prefix",
        prefix,
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        join(tmp, packed[0].filename),
      ],
      { env: npmEnv(), stdio: ["ignore", "inherit", "inherit"] },
    );
    const svtrace = join(prefix, "bin", "svtrace");
    assert.ok(existsSync(svtrace), `${svtrace} installed`);
    const run = (args: string[]) => {
      const r = spawnSync(svtrace, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      if (r.error) throw r.error;
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };

    const version = run(["--version"]);
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), pkg.version);

    const file = capture("guseynov_50new_studenttool_untagged_fcs.pcap");
    const installed = run(["decode", file, "--json"]);
    assert.equal(installed.code, 0, installed.stderr);
    const checkout = runCli(["decode", file, "--json"]);
    assert.equal(checkout.code, 0, checkout.stderr);
    assert.equal(installed.stdout.trim().split("\n").length, 80);
    assert.equal(installed.stdout, checkout.stdout, "the installed CLI decodes as the checkout's does");

    // publish looks the interface up through koffi (libc if_nametoindex) before it needs any privilege
    const koffi = run(["publish", "--iface", "svt-nosuch0", "--count", "1"]);
    assert.notEqual(koffi.code, 0);
    assert.match(koffi.stderr, /unknown interface svt-nosuch0/, "koffi's native module loads");
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
