// The worker's public entry points, for the CLI and the extension: the client
// that forks and supervises the worker process, and validation through it.

export { validate, DEFAULT_BATCH_SIZE, DEFAULT_WARMUP } from './validate';
export type { ValidateOptions, MeasureModel } from './validate';
export { WorkerClient, WorkerFailure } from './client';
export type { WorkerClientOptions, RunOptions } from './client';
export type { WorkProgress, WorkStage, PrunePlanJob, SensitivityJob, SensitivityResult } from './protocol';
