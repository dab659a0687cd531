// Axis maths for the hand-written SVG plots. Pure.

/** Maps [d0, d1] linearly onto [r0, r1]; a degenerate domain maps to the range's middle. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (x: number) => number {
  const span = d1 - d0;
  if (span === 0) return () => (r0 + r1) / 2;
  return (x) => r0 + ((x - d0) / span) * (r1 - r0);
}

/**
 * About `count` round tick values (steps of 1, 2 or 5 times a power of ten)
 * covering [lo, hi]; the first tick <= lo and the last >= hi.
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`ticks need a finite domain, got [${lo}, ${hi}]`);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const start = Math.floor(lo / step + 1e-9);
  const end = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  // Multiply rather than accumulate, so 0.1 * 3 stays 0.3 after rounding.
  for (let i = start; i <= end; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}
