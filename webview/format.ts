// Number formatting for the report: counts with SI suffixes, bytes, percents.

/** 1234 → "1.23K", 11_689_512 → "11.7M"; three significant digits. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  // Round first, so 999_600 becomes "1M" rather than "1.00e+3K".
  const rounded = Number(n.toPrecision(3));
  const abs = Math.abs(rounded);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [scale, suffix] of units) {
    if (abs >= scale) return `${trim((rounded / scale).toPrecision(3))}${suffix}`;
  }
  return String(Math.round(n * 100) / 100);
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${trim(value.toPrecision(3))} ${units[unit]}`;
}

/** A fraction as a percent: 0.4712 → "47.1%". */
export function formatPercent(fraction: number, digits = 1): string {
  if (!Number.isFinite(fraction)) return '—';
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** A score or statistic: 4 significant digits, scientific when tiny. */
export function formatScore(x: number): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  if (Math.abs(x) < 1e-3) return x.toExponential(2);
  return trim(x.toPrecision(4));
}

/** Cosines of a good prune are all 0.9999…; show how far from 1 instead of rounding to "1". */
export function formatCosine(c: number): string {
  if (!Number.isFinite(c)) return '—';
  const gap = 1 - c;
  return gap > 0 && gap < 1e-3 ? `1 − ${gap.toExponential(1)}` : formatScore(c);
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(1)} ms`;
}

/** "1.50" → "1.5", "2.00" → "2"; leaves exponents alone. */
function trim(s: string): string {
  return s.includes('e') || !s.includes('.') ? s : s.replace(/\.?0+$/, '');
}

