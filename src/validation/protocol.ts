// Messages between the validation client (extension host or CLI) and the
// worker process that owns onnxruntime. Plain JSON over the fork IPC channel.

import type { ErrorCode, ErrorLocation } from '../onnx/errors';
import type { ProviderName } from './providers';
import type { LatencyStats, ProviderAttempt } from './report';
import type { Comparison } from './metrics';

/** One validation, as the worker runs it: both models, same batches. */
export interface ValidateJob {
  original: string;
  pruned: string;
  data?: string;
  labels?: string;
  samples?: number;
  seed?: number;
  dims?: Record<string, number>;
  batchSize: number;
  /** Untimed runs of each model on the first batch before timing starts. */
  warmup: number;
  providers: ProviderName[];
  /** Providers already tried by an earlier worker (e.g. one that hung), carried into the report. */
  priorAttempts?: ProviderAttempt[];
}

/**
 * A 'session' event is sent before each provider attempt: creating a session
 * runs in native code on the worker's only thread and may hang, so the
 * client times it and kills the worker if it takes too long.
 */
export type ProgressEvent =
  | { stage: 'session'; provider: ProviderName; model: 'original' | 'pruned' }
  | { stage: 'skipped'; attempt: ProviderAttempt }
  | { stage: 'data'; description: string; samples: number; batchSize: number }
  | { stage: 'warmup' }
  | { stage: 'batch'; done: number; total: number };

export interface JobResult {
  provider: ProviderName;
  attempts: ProviderAttempt[];
  data: string;
  samples: number;
  batchSize: number;
  labels: boolean;
  /** The output compared: the first output of each model. */
  output: string;
  comparison: Comparison;
  latency: { original: LatencyStats; pruned: LatencyStats };
  warnings: string[];
}

export interface SerializedError {
  code: ErrorCode;
  detail: string;
  file?: string;
  location?: ErrorLocation;
}

export type ToWorker =
  | { type: 'validate'; id: number; job: ValidateJob }
  | { type: 'cancel'; id: number };

export type FromWorker =
  | { type: 'progress'; id: number; event: ProgressEvent }
  | { type: 'result'; id: number; result: JobResult }
  | { type: 'error'; id: number; error: SerializedError };

/** Environment variable through which the client hands the worker its CUDA library folder. */
export const CUDA_PATH_ENV = 'PRUNE_LENS_CUDA_LIBRARY_PATH';
