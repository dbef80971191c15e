/**
 * `npm run bench [NAME...]`: run the benchmarks (all, or those named), each against its peer tool in the
 * same run, and print their figures. Benchmarks are not tests: they print numbers and never fail on timing.
 */

export interface Bench {
  /** short name used on the command line */
  name: string;
  /** what is measured and against which peer */
  title: string;
  run(args: string[]): Promise<void>;
}

const loaders: Record<string, () => Promise<{ bench: Bench }>> = {
  // name: () => import("./file.js"),
  decode: () => import("./decode.js"),
  guest: () => import("./guest.js"),
  pacing: () => import("./pacing.js"),
  report: () => import("./report.js"),
  tracer: () => import("./tracer.js"),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const names = wanted.length > 0 ? wanted : Object.keys(loaders);
for (const name of names) {
  const load = loaders[name];
  if (!load) {
    process.stderr.write(`bench: unknown benchmark ${name}; known: ${Object.keys(loaders).join(", ")}\n`);
    process.exit(2);
  }
  const { bench } = await load();
  process.stdout.write(`\n=== ${bench.name}: ${bench.title}\n`);
  await bench.run(process.argv.slice(2).filter((a) => a.startsWith("-")));
}
