// Messages between the worker client (extension host or CLI) and the worker
// process that owns onnxruntime. Plain JSON over the fork IPC channel.

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
 * What a job is doing: reading the model or data (load), creating onnxruntime
 * sessions (session), running models on calibration data (calibrate),
 * warming up, pruning, refitting (recover), measuring on validation data,
 * suggesting a plan, writing files (save).
 */
export type WorkStage = 'load' | 'session' | 'calibrate' | 'warmup' | 'prune' | 'recover' | 'measure' | 'suggest' | 'save';

/**
 * Progress of any job (validation, prune plan, sensitivity): a sentence for
 * the user and the share of the whole job done (0 to 1, never going back).
 * Sent at each phase and, at most every quarter second, as batches run, so a
 * long job that is working keeps the client's idle watchdog from firing.
 */
export interface WorkProgress {
  stage: WorkStage;
  message: string;
  fraction: number;
  /**
   * Sent before each provider attempt: creating a session runs in native code
   * on the worker's only thread and may hang, so the client times it and kills
   * the worker if it takes too long.
   */
  session?: { provider: ProviderName; model: 'original' | 'pruned' };
  /** A provider given up on, and why. */
  skipped?: ProviderAttempt;
  /** Validation batches: samples compared so far, of how many. */
  samples?: { done: number; total: number };
  /** The batch (1-based) running now: a worker that dies of memory names it. */
  batch?: number;
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
  /** Protobuf size in bytes above which the output's weights go to an external data file (default 1.8 GB). */
  externalThreshold?: number;
  /** Stop before writing, with a 'drastic' error naming them, when layers would lose more than 90% of their channels (the caller asks and runs again without it). */
  confirmDrastic?: boolean;
  /** The input size to count MACs at, for a model with named dims (the report says which). */
  inputShape?: { shapes: Record<string, number[]>; source: string };
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

/** Each request the worker answers: the job it carries and the result it returns (all report WorkProgress). */
export interface WorkerRequests {
  validate: { job: ValidateJob; result: JobResult };
  prunePlan: { job: PrunePlanJob; result: PruneReport };
  sensitivity: { job: SensitivityJob; result: SensitivityResult };
}
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
  /** Its dims in the first batch: whether top-1 agreement means anything follows from them. */
  outputDims?: number[];
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
  | { type: 'progress'; id: number; event: WorkProgress }
  | { type: 'result'; id: number; result: WorkerRequests[RequestType]['result'] }
  | { type: 'error'; id: number; error: SerializedError };

/** Environment variable through which the client hands the worker its CUDA library folder. */
export const CUDA_PATH_ENV = 'PRUNE_LENS_CUDA_LIBRARY_PATH';
