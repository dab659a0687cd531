// The validation module's public entry points: datasets, onnxruntime
// providers, metrics and the validation report. The worker process that runs
// validations (and pruning plans and sensitivity analysis) is src/worker.

export { defaultProviders, parseProviders, KNOWN_PROVIDERS } from './providers';
export type { ProviderName } from './providers';
export type { ValidationReport, ModelSide, ProviderAttempt, LatencyStats } from './report';
