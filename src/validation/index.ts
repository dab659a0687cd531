// The validation module's public entry points, for the CLI and the extension.

export { validate, DEFAULT_BATCH_SIZE, DEFAULT_WARMUP } from './validate';
export type { ValidateOptions, MeasureModel } from './validate';
export { ValidationClient, WorkerFailure } from './client';
export type { ValidationClientOptions, RunOptions } from './client';
export { defaultProviders, parseProviders, KNOWN_PROVIDERS } from './providers';
export type { ProviderName } from './providers';
export type { ProgressEvent } from './protocol';
export type { ValidationReport, ModelSide, ProviderAttempt, LatencyStats } from './report';
