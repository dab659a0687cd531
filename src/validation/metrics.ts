// The numbers of a validation, as pure functions of model outputs and timings.
// Outputs are flat row-major arrays: `rows` samples of `width` values each.

import type { LatencyStats } from './report';

/** Index of the largest value in each row (the first one on ties). */
export function argmaxRows(values: ArrayLike<number>, rows: number): Int32Array {
  const width = rows === 0 ? 0 : values.length / rows;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < width; c++) {
      const v = values[r * width + c];
      if (v > bestValue) { bestValue = v; best = c; }
    }
    out[r] = best;
  }
  return out;
}

/** Number of positions where the two sequences hold the same value. */
export function countEqual(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`countEqual: lengths ${a.length} and ${b.length} differ`);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) n++;
  return n;
}

export interface AbsDiff { max: number; sum: number; count: number }

export function absDiff(a: ArrayLike<number>, b: ArrayLike<number>): AbsDiff {
  if (a.length !== b.length) throw new Error(`absDiff: lengths ${a.length} and ${b.length} differ`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max || Number.isNaN(d)) max = d;
    sum += d;
  }
  return { max, sum, count: a.length };
}

/**
 * Cosine similarity of each pair of rows. Two all-zero rows are identical (1);
 * one all-zero row against a non-zero one shares no direction (0).
 */
export function cosineRows(a: ArrayLike<number>, b: ArrayLike<number>, rows: number): Float64Array {
  if (a.length !== b.length) throw new Error(`cosineRows: lengths ${a.length} and ${b.length} differ`);
  const width = rows === 0 ? 0 : a.length / rows;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let dot = 0, na = 0, nb = 0;
    for (let c = r * width; c < (r + 1) * width; c++) {
      dot += a[c] * b[c];
      na += a[c] * a[c];
      nb += b[c] * b[c];
    }
    out[r] = na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  }
  return out;
}

/** The p-th percentile (0..100) with linear interpolation between ranks, as numpy.percentile does. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/** Latency per batch (ms) and throughput over the timed samples. */
export function latencyStats(batchMs: readonly number[], samples: number): LatencyStats {
  const total = batchMs.reduce((s, x) => s + x, 0);
  return {
    p50: percentile(batchMs, 50),
    p95: percentile(batchMs, 95),
    mean: batchMs.length ? total / batchMs.length : NaN,
    throughput: total > 0 ? samples / (total / 1000) : NaN,
  };
}

/**
 * Cross-entropy of each row's logits against its target class, summed over
 * the rows, in float64 with the log-sum-exp shift (logits of any size stay finite).
 */
export function crossEntropySum(logits: ArrayLike<number>, rows: number, targets: ArrayLike<number>): number {
  const width = rows === 0 ? 0 : logits.length / rows;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let max = -Infinity;
    for (let c = 0; c < width; c++) if (logits[base + c] > max) max = logits[base + c];
    let sum = 0;
    for (let c = 0; c < width; c++) sum += Math.exp(logits[base + c] - max);
    total += max + Math.log(sum) - logits[base + targets[r]];
  }
  return total;
}

export interface Comparison {
  samples: number;
  /**
   * Present when labels were given: top-1 accuracy per sample, or for a
   * language model (logits [N, T, V], targets [N, T]) next-token accuracy.
   */
  originalAccuracy?: number;
  prunedAccuracy?: number;
  /** Language models: the predictions compared (N × T); agreement, cosine and accuracy count tokens. */
  tokens?: number;
  /** Language models: exp of the mean cross-entropy of the next-token predictions. */
  originalPerplexity?: number;
  prunedPerplexity?: number;
  agreement: number;
  maxAbsDiff: number;
  meanAbsDiff: number;
  /** Mean over samples of the per-sample cosine similarity. */
  cosine: number;
}

/**
 * Folds batches of both models' outputs (and labels) into a Comparison, in
 * constant memory. A language model's batch is given per token: `rows` is
 * N × T predictions of V logits each, `labels` the N × T targets, and
 * `sequences` the N samples they came from.
 */
export class ComparisonAccumulator {
  private samples = 0;
  private tokens = 0;
  private entropyOriginal = 0;
  private entropyPruned = 0;
  private agree = 0;
  private correctOriginal = 0;
  private correctPruned = 0;
  private labelled = 0;
  private maxDiff = 0;
  private sumDiff = 0;
  private diffCount = 0;
  private cosineSum = 0;

  add(original: ArrayLike<number>, pruned: ArrayLike<number>, rows: number, labels?: ArrayLike<number>, sequences?: number): void {
    const top1Original = argmaxRows(original, rows);
    const top1Pruned = argmaxRows(pruned, rows);
    this.samples += sequences ?? rows;
    if (sequences !== undefined) {
      this.tokens += rows;
      if (labels) {
        this.entropyOriginal += crossEntropySum(original, rows, labels);
        this.entropyPruned += crossEntropySum(pruned, rows, labels);
      }
    }
    this.agree += countEqual(top1Original, top1Pruned);
    if (labels) {
      this.correctOriginal += countEqual(top1Original, labels);
      this.correctPruned += countEqual(top1Pruned, labels);
      this.labelled += rows;
    }
    const diff = absDiff(original, pruned);
    if (diff.max > this.maxDiff || Number.isNaN(diff.max)) this.maxDiff = diff.max;
    this.sumDiff += diff.sum;
    this.diffCount += diff.count;
    for (const c of cosineRows(original, pruned, rows)) this.cosineSum += c;
  }

  result(): Comparison {
    // Agreement and cosine are per prediction: per token for a language model.
    const n = this.tokens || this.samples;
    return {
      samples: this.samples,
      ...(this.tokens ? { tokens: this.tokens } : {}),
      ...(this.tokens && this.labelled > 0 ? {
        originalPerplexity: Math.exp(this.entropyOriginal / this.labelled),
        prunedPerplexity: Math.exp(this.entropyPruned / this.labelled),
      } : {}),
      ...(this.labelled > 0 ? {
        originalAccuracy: this.correctOriginal / this.labelled,
        prunedAccuracy: this.correctPruned / this.labelled,
      } : {}),
      agreement: n ? this.agree / n : NaN,
      maxAbsDiff: this.maxDiff,
      meanAbsDiff: this.diffCount ? this.sumDiff / this.diffCount : NaN,
      cosine: n ? this.cosineSum / n : NaN,
    };
  }
}
