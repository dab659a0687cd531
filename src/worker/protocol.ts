// Messages between the validation client (extension host or CLI) and the
// worker process that owns onnxruntime. Plain JSON over the fork IPC channel.

import type { ErrorCode, ErrorLocation } from '../onnx/errors';
import type { DataSpec } from '../validation/datasets';
import type { ProviderName } from '../validation/providers';
import type { LatencyStats, ProviderAttempt } from '../validation/report';
import type { Comparison } from '../validation/metrics';
import type { PrunePlan } from '../pruning/plan/types';
import type { PruneReport, SensitivityReport } from '../pruning/report';
import type { Suggestion } from '../pruning/sensitivity/suggest';
import type { StructuredMethod } from '../pruning/methods';

/** One validation, as the worker runs it: both models, same batches. */
export interface ValidateJob extends DataSpec {
  original: string;
  pruned: string;
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

/** What a prune or sensitivity job is doing. */
export type WorkStage = 'load' | 'calibrate' | 'prune' | 'recover' | 'measure' | 'suggest' | 'save';

/**
 * Progress of a prune plan or sensitivity job: a sentence for the user and the
 * share of the whole job done (0 to 1, never going back). Sent at each phase
 * and, at most every quarter second, as calibration batches run, so a long
 * job that is working keeps the client's idle watchdog from firing.
 */
export interface WorkProgress {
  stage: WorkStage;
  message: string;
  fraction: number;
}

/**
 * Run a pruning plan on a model file and write the pruned model and its report.
 * Relative paths resolve against the worker's working directory (the client's); front ends pass absolute ones.
 */
export interface PrunePlanJob {
  model: string;
  plan: PrunePlan;
  /** Folder the plan's relative paths (calibration data, masks) resolve against: the plan file's folder. */
  planBaseDir: string;
  /** The plan file, when the plan came from one: errors in the plan name it. */
  planFile?: string;
  /** The pruned model; its report goes to `<output>.report.json`. */
  output: string;
  /** Replace an existing output and report (never the source model). */
  overwrite?: boolean;
}

/** Per-group sensitivity curves of a model, optionally with a suggested plan written to a file. */
export interface SensitivityJob {
  model: string;
  /** Validation inputs: .npy, .npz or a folder of .npy files. */
  data: string;
  /** Class labels (.npy); without them the metric is agreement with the unpruned model. */
  labels?: string;
  /** Calibration inputs for data-aware criteria (wanda, activation-norm); by default `data`. */
  calibration?: string;
  ratios?: number[];
  /** How channels are ranked (default l1). */
  criterion?: StructuredMethod;
  /** Layers never pruned, by name or glob. */
  ignore?: string[];
  /** At most this many samples of `data`. */
  samples?: number;
  /** Samples per onnxruntime run (default 64). */
  batch?: number;
  /** Also suggest a plan removing the share `target` of the MACs, written to `output` (a .prune.json). */
  suggest?: { target: number; output: string; overwrite?: boolean };
}

export interface SensitivityResult {
  report: SensitivityReport;
  /** With `suggest`: the plan, where it was written, and its predicted loss and MAC reduction. */
  suggestion?: Suggestion & { file: string };
}

/** Each request the worker answers: the job it carries, the progress it reports and the result it returns. */
export interface WorkerRequests {
  validate: { job: ValidateJob; event: ProgressEvent; result: JobResult };
  prunePlan: { job: PrunePlanJob; event: WorkProgress; result: PruneReport };
  sensitivity: { job: SensitivityJob; event: WorkProgress; result: SensitivityResult };
}
/** A progress event of any request. */
export type WorkerEvent = WorkerRequests[RequestType]['event'];
export type RequestType = keyof WorkerRequests;
export type WorkerRequest<K extends RequestType = RequestType> = { [T in K]: { type: T; id: number; job: WorkerRequests[T]['job'] } }[K];

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
  | WorkerRequest
  | { type: 'cancel'; id: number };

export type FromWorker =
  | { type: 'progress'; id: number; event: WorkerEvent }
  | { type: 'result'; id: number; result: WorkerRequests[RequestType]['result'] }
  | { type: 'error'; id: number; error: SerializedError };

/** Environment variable through which the client hands the worker its CUDA library folder. */
export const CUDA_PATH_ENV = 'PRUNE_LENS_CUDA_LIBRARY_PATH';
