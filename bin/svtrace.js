#!/usr/bin/env node
// svtrace entry point: runs the compiled CLI, dist/src/cli/main.js beside bin/ (npm run build writes it in a
// checkout; an installed package ships it, see `files` in package.json).
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(
    `svtrace: not built yet (no ${fileURLToPath(main)}); run \`npm ci && npm run build\` (or ./run demo) in the svtrace folder, or install a package made by \`npm pack\`\n`,
  );
  process.exit(2);
}
// installed as svtrace.py too (the original tool's name): the process is then named so, as svtrace-ansible's
// `killall --wait svtrace.py --signal SIGINT` expects
if (basename(process.argv[1] ?? "") === "svtrace.py") process.title = "svtrace.py";
await import(main.href);
