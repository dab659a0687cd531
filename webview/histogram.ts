// Binning of one layer's channel scores for the histogram, with each bin split
// into the channels the current cut removes and those it keeps.

export type HistogramScale = 'linear' | 'log';

export interface Histogram {
  scale: HistogramScale;
  /** bins + 1 ascending edges in score units; bin i is [edges[i], edges[i+1]), the last bin closed. */
  edges: number[];
  kept: number[];
  removed: number[];
  /** Log scale only: the scores <= 0, which a log axis cannot place. */
  zero: { kept: number; removed: number };
}

/** About 1.5 sqrt(n) bins: enough shape for a 512-filter layer, no comb of empty bins for 16 filters. */
export function defaultBinCount(n: number): number {
  return Math.max(6, Math.min(40, Math.ceil(1.5 * Math.sqrt(n))));
}

/**
 * Log scale when the positive scores span more than three decades. Networks
 * trained with a sparsity penalty (network slimming) have most |gamma| near
 * 1e-8 and the rest near 1e-2: on a linear axis they all fall in the first bin.
 */
export function preferredScale(values: readonly number[]): HistogramScale {
  let min = Infinity;
  let max = 0;
  for (const v of values) {
    if (v > 0) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
  }
  return max > 0 && max / min > 1e3 ? 'log' : 'linear';
}

export interface BinOptions {
  /** Indices of `values` the cut removes. */
  removed?: Iterable<number>;
  /** Drawn as a line, so the domain is stretched to contain it when finite. */
  threshold?: number;
  bins?: number;
  scale?: HistogramScale;
}

/**
 * Bins `values` over their range, stretched to contain the threshold so the
 * threshold line is drawn inside the plot. Log: over log10 of the positive
 * scores, with zeros counted apart.
 */
export function binScores(values: readonly number[], options: BinOptions = {}): Histogram {
  const { threshold = -Infinity, bins = defaultBinCount(values.length), scale = 'linear' } = options;
  const gone = new Set(options.removed ?? []);
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  for (const v of values) if (!Number.isFinite(v)) throw new RangeError(`cannot bin a non-finite score (${v})`);
  const log = scale === 'log';
  const toAxis = log ? Math.log10 : (v: number) => v;
  const placed = log ? values.filter((v) => v > 0) : values;
  const marks = Number.isFinite(threshold) && (!log || threshold > 0) ? [...placed, threshold] : placed;

  let lo = Infinity;
  let hi = -Infinity;
  for (const v of marks) {
    lo = Math.min(lo, toAxis(v));
    hi = Math.max(hi, toAxis(v));
  }
  if (!Number.isFinite(lo)) lo = hi = 0; // nothing to place
  if (hi === lo) hi = lo + (log || lo === 0 ? 1 : Math.abs(lo)); // all equal: still a drawable domain
  const width = (hi - lo) / bins;
  const fromAxis = log ? (a: number) => 10 ** a : (a: number) => a;
  const edges = Array.from({ length: bins + 1 }, (_, i) => fromAxis(i === bins ? hi : lo + i * width));
  const kept = new Array<number>(bins).fill(0);
  const removed = new Array<number>(bins).fill(0);
  const zero = { kept: 0, removed: 0 };
  values.forEach((v, i) => {
    if (log && v <= 0) {
      if (gone.has(i)) zero.removed++;
      else zero.kept++;
      return;
    }
    const bin = Math.min(bins - 1, Math.floor((toAxis(v) - lo) / width));
    if (gone.has(i)) removed[bin]++;
    else kept[bin]++;
  });
  return { scale, edges, kept, removed, zero };
}
