/** Number formatting shared by the report outputs: µs with one decimal, counts grouped by thousands. */

/** 28487 -> "28.5" (µs); null -> "-" */
export function us(ns: number | null | undefined, digits = 1): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return "-";
  return (ns / 1000).toFixed(digits);
}

/** 352533 -> "352 533" */
export function count(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "-";
  const s = String(Math.round(Math.abs(n)));
  const grouped = s.replace(/\B(?=(\d{3})+(?!\d))/g, " ");
  return n < 0 ? `-${grouped}` : grouped;
}

/** 0.0123 -> "1.23 %" */
export function pct(fraction: number): string {
  if (!Number.isFinite(fraction)) return "-";
  const p = fraction * 100;
  const a = Math.abs(p);
  return `${a >= 10 ? p.toFixed(1) : a >= 0.1 ? p.toFixed(2) : p.toPrecision(2)} %`;
}

/** Pad a table: first column left-aligned, the rest right-aligned. */
export function table(rows: string[][], widths?: number[]): string[] {
  const w =
    widths ??
    rows.reduce<number[]>((acc, r) => r.map((c, i) => Math.max(acc[i] ?? 0, visible(c).length)), []);
  return rows.map((r) =>
    r
      .map((c, i) => {
        const pad = (w[i] ?? 0) - visible(c).length;
        return i === 0 ? c + " ".repeat(Math.max(0, pad)) : " ".repeat(Math.max(0, pad)) + c;
      })
      .join("  "),
  );
}

/** the text without ANSI colour codes */
export function visible(s: string): string {
  return s.replace(/\x1b\[[0-9;]*m/g, "");
}
