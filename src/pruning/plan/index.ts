// Pruning plans: `*.prune.json` files of steps, checked and run against a model.
export { runPlan, describeStep, type RunPlanOptions, type PlanProgress } from './run';
export { parsePlanText, validatePlan, lineColumn, PLAN_KEYS, STEP_KEYS } from './validate';
export { selectStepLayers, loadCustomArrays } from './resolve';
export { amountRule, explainAmount, prunedCount } from './amount';
export { loadPlanFile, outputPathFor, reportPathFor, savePruned } from './output';
export * from './types';
