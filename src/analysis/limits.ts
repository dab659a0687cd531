// The cap on channel counts. A dim is a number in the file, not data it
// holds: a 100-byte model can declare a weight of [500000000, 0, 1, 1] (no
// elements) or an input of [1, 500000000]. Per-channel arrays (norms, gammas,
// channel units) are sized from such dims, so every count is checked here
// before anything is allocated from it, and an absurd one is a clear 'limit'
// error naming the tensor and the dim instead of gigabytes of arrays.

import { PruneLensError } from '../onnx/errors';

/** Channels of one tensor: far above any real layer (the largest vocabularies are ~256k). */
export const MAX_CHANNELS = 1 << 20;

/** Throws unless `n` is a whole number of channels within MAX_CHANNELS. */
export function checkChannels(n: number, tensor: string, dim: number, node?: string): void {
  if (Number.isSafeInteger(n) && n >= 0 && n <= MAX_CHANNELS) return;
  const what = Number.isSafeInteger(n) && n >= 0 ? `${n} channels` : `a channel count of ${n}`;
  throw new PruneLensError('limit', `${tensor} declares ${what} on dim ${dim}; Prune Lens handles at most ${MAX_CHANNELS} channels per tensor (is the shape right?)`,
    { tensor, node });
}
