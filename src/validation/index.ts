// The validation module's public entry points, for the CLI and the extension:
// validation, and the worker that also runs pruning plans and sensitivity analysis.

export { validate, DEFAULT_BATCH_SIZE, DEFAULT_WARMUP } from './validate';
export type { ValidateOptions, MeasureModel } from './validate';
export { ValidationClient, WorkerFailure } from './client';
export type { ValidationClientOptions, RunOptions } from './client';
export { defaultProviders, parseProviders, KNOWN_PROVIDERS } from './providers';
export type { ProviderName } from './providers';
export type { ProgressEvent, WorkProgress, WorkStage, PrunePlanJob, SensitivityJob, SensitivityResult } from './protocol';
export type { ValidationReport, ModelSide, ProviderAttempt, LatencyStats } from './report';
