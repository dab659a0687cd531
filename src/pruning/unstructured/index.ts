// Unstructured (mask) pruning: weights set to zero, shapes unchanged.
export { applyMaskStep, type MaskStep, type MaskResult, type LayerMaskChange } from './prune';
export { entriesToPrune, roundHalfEven, type Amount } from './amount';
export { GRANULARITIES, type Granularity } from './units';
export { pruneCalibrated, blockOf, type CalibratedStep, type CalibratedOptions } from './calibrated';
export { sparseGpt, type SparsityTarget } from './sparsegpt';
export { wandaMask, wandaScores } from './wanda';
