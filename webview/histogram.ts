// Binning of one layer's channel scores for the histogram, with each bin split
// into the channels the current threshold removes and those it keeps.

export interface Histogram {
  /** bins + 1 ascending edges; bin i is [edges[i], edges[i+1]), the last bin closed. */
  edges: number[];
  kept: number[];
  removed: number[];
}

/** About sqrt(n) bins: enough shape for a 512-filter layer, no comb of empty bins for 16 filters. */
export function defaultBinCount(n: number): number {
  return Math.max(5, Math.min(40, Math.ceil(Math.sqrt(n))));
}

/**
 * Bins `values` over a domain that starts at 0 (scores are norms and |gamma|,
 * and how close they come to zero is the point) and always contains the
 * threshold, so the threshold line is drawn inside the plot.
 */
export function binScores(values: readonly number[], threshold: number, bins = defaultBinCount(values.length)): Histogram {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  let lo = 0;
  let hi = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`cannot bin a non-finite score (${v})`);
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (Number.isFinite(threshold)) {
    lo = Math.min(lo, threshold);
    hi = Math.max(hi, threshold);
  }
  if (hi === lo) hi = lo + 1; // all zeros: still a drawable domain
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * width));
  const kept = new Array<number>(bins).fill(0);
  const removed = new Array<number>(bins).fill(0);
  for (const v of values) {
    const bin = Math.min(bins - 1, Math.floor((v - lo) / width));
    if (v <= threshold) removed[bin]++;
    else kept[bin]++;
  }
  return { edges, kept, removed };
}
