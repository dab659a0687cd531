// What a step's `amount` means, in one place for the schema's words, the plan
// hover and the CLI help. Two rules, kept as the reference tools have them:
//   masks (structured: false): torch.nn.utils.prune prunes round(a·n), Python's
//     rounding (halves to even);
//   channels (structured: true): Torch-Pruning keeps floor(n·(1 − a)), so it
//     removes n − floor(n·(1 − a)), and a group always keeps a channel (a < 1).
// For n = 10, a = 0.25: 3 channels go, but 2 weights are masked.

import { keptCount } from '../structured/select';
import { roundHalfEven } from '../unstructured/amount';

/** How many of `n` units a step with this amount removes (channels) or zeroes (masks). */
export function prunedCount(n: number, amount: number, structured: boolean): number {
  return structured ? n - keptCount(n, amount) : roundHalfEven(amount * n);
}

/** The rule as a sentence, for one kind of step. */
export function amountRule(structured: boolean): string {
  return structured
    ? 'Structured steps follow Torch-Pruning: a group of n channels keeps floor(n × (1 − amount)) and loses the rest, so amount must be below 1.'
    : 'Masks follow torch.nn.utils.prune: round(amount × n) of the n unpruned weights (or units) are zeroed, with Python\'s rounding (halves to even).';
}

/** The rule with worked numbers for this amount, for the plan hover. */
export function explainAmount(amount: number, structured: boolean): string {
  const what = structured ? 'channels removed' : 'zeroed';
  const examples = [10, 64, 100].map((n) => `n = ${n}: ${prunedCount(n, amount, structured)} ${what}`).join('; ');
  const other = prunedCount(10, amount, !structured);
  const contrast = other !== prunedCount(10, amount, structured)
    ? ` (as ${structured ? 'a mask' : 'a structured step'} it would be ${other} of 10)` : '';
  return `${amountRule(structured)} ${examples}${contrast}.`;
}
