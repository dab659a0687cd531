// How many entries a prune removes, computed the way torch.nn.utils.prune does
// (`_validate_pruning_amount` and `_compute_nparams_toprune`), so that a plan
// written against PyTorch results gives the same counts here.

import { PruneLensError } from '../../onnx/errors';

/** A fraction of the candidates, or an exact count of them. */
export type Amount = { fraction: number } | { count: number };

/** Python's round(): halves go to the even neighbour (round(0.5) = 0, round(2.5) = 2). */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Entries to prune out of `candidates` (torch: round(amount * n) for a
 * fraction, the count as-is). Throws a 'plan' error for an amount torch would
 * reject: a fraction outside [0, 1], a negative or fractional count, or a
 * count larger than the candidates.
 */
export function entriesToPrune(amount: Amount, candidates: number, what = 'entries'): number {
  if ('fraction' in amount) {
    const f = amount.fraction;
    if (!Number.isFinite(f) || f < 0 || f > 1) {
      throw new PruneLensError('plan', `amount ${f} is not a fraction in [0, 1]`);
    }
    return roundHalfEven(f * candidates);
  }
  const c = amount.count;
  if (!Number.isSafeInteger(c) || c < 0) throw new PruneLensError('plan', `count ${c} is not a non-negative integer`);
  if (c > candidates) {
    throw new PruneLensError('plan', `count ${c} is more than the ${candidates} unpruned ${what}`);
  }
  return c;
}
