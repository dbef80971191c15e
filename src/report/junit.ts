/**
 * JUnit XML for CI systems: one test case per verdict check (each limit, and "min latency > 0 us"), a
 * <failure> with the numbers when it fails, and per-stream figures of the checked segment in the message.
 */
import type { ReportSummary } from "../analysis/summary.js";
import { count, us } from "./format.js";

export function xmlEscape(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;")
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, "");
}

export function renderJUnit(summary: ReportSummary): string {
  const checks = summary.verdict?.checks ?? [];
  const failures = checks.filter((c) => !c.pass).length;
  const cases = checks.map((ch) => {
    const perStream = summary.streams
      .map((s) => {
        const seg = ch.segment === "all" ? undefined : s.segments[ch.segment];
        return seg
          ? `${s.svID}: count ${seg.count}, max ${us(seg.max)} us, over ${ch.limit_us} us: ${seg.over_us[String(ch.limit_us)] ?? "-"}`
          : `${s.svID}: ${s.rows} SVs`;
      })
      .join("\n");
    const body = ch.pass
      ? `    <testcase classname="svtrace.latency" name="${xmlEscape(ch.name)}" time="0"/>`
      : `    <testcase classname="svtrace.latency" name="${xmlEscape(ch.name)}" time="0">\n      <failure type="latency" message="${xmlEscape(
          ch.value === null
            ? "no SVs measured"
            : ch.segment === "all"
              ? `${count(ch.over)} negative latencies (min ${us(ch.value)} us): clock problem`
              : `${count(ch.over)} SVs above ${ch.limit_us} us (max ${us(ch.value)} us)`,
        )}">${xmlEscape(perStream)}</failure>\n    </testcase>`;
    return body;
  });
  const inputs = summary.inputs.map((i) => i.path).join(", ");
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="svtrace report" tests="${checks.length}" failures="${failures}" errors="0">`,
    `  <testsuite name="svtrace latency: ${xmlEscape(inputs)}" tests="${checks.length}" failures="${failures}" errors="0" skipped="0" timestamp="${new Date().toISOString().slice(0, 19)}" time="0">`,
    "    <properties>",
    `      <property name="rows" value="${summary.rows}"/>`,
    `      <property name="streams" value="${summary.streams.length}"/>`,
    `      <property name="start" value="${xmlEscape(summary.start ?? "")}"/>`,
    `      <property name="duration_s" value="${summary.duration_s ?? ""}"/>`,
    "    </properties>",
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
