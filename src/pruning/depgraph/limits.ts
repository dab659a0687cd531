// Caps on what the dependency graph allocates from declared sizes (see
// analysis/limits.ts for why): channels per tensor, units per model, and
// positions of a flattened or repeated axis. Every label array is checked
// before it is allocated.

import { PruneLensError } from '../../onnx/errors';

export { checkChannels, MAX_CHANNELS } from '../../analysis/limits';

/** Units of a whole model: each becomes an entry of maps capped at 2^24 by V8. */
export const MAX_UNITS = 1 << 23;
/** Positions of one flattened or repeated axis (a Flatten before a Gemm): 64 MB of labels at most. */
export const MAX_POSITIONS = 1 << 24;

/** Throws unless a label array of `n` positions is whole and within MAX_POSITIONS. */
export function checkPositions(n: number, what: string): void {
  if (Number.isSafeInteger(n) && n >= 0 && n <= MAX_POSITIONS) return;
  throw new PruneLensError(Number.isSafeInteger(n) ? 'limit' : 'shape',
    Number.isSafeInteger(n) ? `${what} has ${n} positions; structured pruning tracks at most ${MAX_POSITIONS} (is the shape right?)`
      : `${what} has a non-integer number of positions (${n}); its dims do not divide`);
}
