// Small formatting helpers for terminal tables: numbers people can read at a glance.

export function human(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

export function fixed(n: number | undefined, digits = 3): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  if (n !== 0 && Math.abs(n) < 10 ** -digits) return n.toExponential(1);
  return n.toFixed(digits);
}

export function percent(f: number): string {
  return `${(f * 100).toFixed(1)}%`;
}

/** Renders rows as an aligned text table; numeric-looking columns are right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // Right-align columns of plain figures (1.2k, 3.4%, 16→32, 4.8e-9); names stay left.
  const figure = /^(-?[\d.]+(e[+-]?\d+)?[kMG%]?|\d+→\d+|-)$/;
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => figure.test(r[i] ?? '')));
  const line = (cells: string[]) =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function stats(values: number[]): { min: number; median: number; max: number; mean: number } {
  if (!values.length) return { min: NaN, median: NaN, max: NaN, mean: NaN };
  const s = values.slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  return {
    min: s[0],
    max: s[s.length - 1],
    median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

export { parseInputShape } from '../analysis/inputShape';

/** Which input size MACs were counted at, and where it came from. */
export function assumedInputLine(a: { shapes: Record<string, number[]>; source: string }): string {
  const at = Object.entries(a.shapes).map(([n, s]) => `${n} [${s.join(',')}]`).join(', ');
  return `MACs per sample (a named batch counts as 1) at ${at} (from ${a.source})`;
}

/** A progress line on stderr, redrawn at most every 200 ms (on a terminal in place, else one line each). */
export function progressLine(label: string): { update: (done: number, total: number) => void; end: () => void } {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let shown = false;
  return {
    update: (done, total) => {
      const now = Date.now();
      if (now - last < 200 && done < total) return;
      last = now;
      shown = true;
      const pct = total ? Math.floor((100 * done) / total) : 100;
      process.stderr.write(`${tty ? '\r' : ''}${label}: ${pct}% (${bytes(done)} of ${bytes(total)})${tty ? '\x1b[K' : '\n'}`);
    },
    end: () => {
      if (shown && tty) process.stderr.write('\n');
    },
  };
}
