// Sensitivity analysis (per-group curves of accuracy against pruning ratio)
// and plan suggestion from those curves.

export { analyzeSensitivity, DEFAULT_RATIOS, type SensitivityOptions } from './analyze';
export { suggestPlan, type Suggestion, type SuggestOptions } from './suggest';
export { sensitivityByKind, type KindCurve } from './kinds';
