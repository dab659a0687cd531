// Caps on what the dependency graph allocates from declared sizes. A dim is a
// number in the file, not data it holds: a 100-byte model can declare an input
// of [1, 500000000] or a weight of [500000000, 1, 0, 0] (no elements). Every
// label array (one Int32 per channel, or per position of a flattened axis) is
// checked here before it is allocated, so such a file gets a clear 'limit'
// error at once instead of gigabytes of arrays.

import { PruneLensError } from '../../onnx/errors';

/** Channels of one tensor: far above any real layer (the largest vocabularies are ~256k). */
export const MAX_CHANNELS = 1 << 20;
/** Units of a whole model: each becomes an entry of maps capped at 2^24 by V8. */
export const MAX_UNITS = 1 << 23;
/** Positions of one flattened or repeated axis (a Flatten before a Gemm): 64 MB of labels at most. */
export const MAX_POSITIONS = 1 << 24;

/** Throws unless `n` is a whole number of channels within MAX_CHANNELS; names the tensor and its dim. */
export function checkChannels(n: number, tensor: string, dim: number, node?: string): void {
  if (Number.isSafeInteger(n) && n >= 0 && n <= MAX_CHANNELS) return;
  const what = Number.isSafeInteger(n) && n >= 0 ? `${n} channels` : `a channel count of ${n}`;
  throw new PruneLensError('limit', `${tensor} declares ${what} on dim ${dim}; structured pruning tracks at most ${MAX_CHANNELS} channels per tensor (is the shape right?)`,
    { tensor, node });
}

/** Throws unless a label array of `n` positions is whole and within MAX_POSITIONS. */
export function checkPositions(n: number, what: string): void {
  if (Number.isSafeInteger(n) && n >= 0 && n <= MAX_POSITIONS) return;
  throw new PruneLensError(Number.isSafeInteger(n) ? 'limit' : 'shape',
    Number.isSafeInteger(n) ? `${what} has ${n} positions; structured pruning tracks at most ${MAX_POSITIONS} (is the shape right?)`
      : `${what} has a non-integer number of positions (${n}); its dims do not divide`);
}
