// The result of validating a pruned model against its original. Plain JSON:
// the CLI prints it, the extension shows it, the webview renders it.

export interface ProviderAttempt {
  /** 'cuda' | 'webgpu' | 'dml' | 'coreml' | 'cpu' */
  provider: string;
  ok: boolean;
  /** Why this provider was skipped, in words a user can act on. */
  reason?: string;
}

export interface LatencyStats {
  /** Milliseconds per batch. */
  p50: number;
  p95: number;
  mean: number;
  /** Samples per second. */
  throughput: number;
}

export interface ModelSide {
  file: string;
  bytes: number;
  params: number;
  macs: number;
  /** Present when labels were given; for a language model, next-token accuracy. */
  accuracy?: number;
  /** Language models with targets: exp of the mean next-token cross-entropy. */
  perplexity?: number;
  latency: LatencyStats;
}

export interface ValidationReport {
  provider: string;
  attempts: ProviderAttempt[];
  samples: number;
  batchSize: number;
  /** Where the data came from: a file, a folder, or "generated (seed N)". */
  data: string;
  labels: boolean;
  /** Language models (logits [N, T, V], targets [N, T]): the tokens predicted; agreement and cosine are per token. */
  tokens?: number;
  original: ModelSide;
  pruned: ModelSide;
  /** Fraction of samples (tokens, for a language model) whose top-1 class is the same in both models. */
  agreement: number;
  maxAbsDiff: number;
  meanAbsDiff: number;
  cosine: number;
  /** original p50 / pruned p50. */
  speedup: number;
  /** Name of the output compared (each model's first output). */
  output?: string;
  /** That output's dims in the first batch: top-1 agreement is the headline only for [batch, classes]. */
  outputShape?: number[];
  /** Things the user should know: a batch size forced by the model, samples dropped. */
  warnings?: string[];
}

/**
 * Whether top-1 agreement and accuracy mean anything for a model's output: a
 * classifier's is [batch, classes]. A detector's boxes or a language model's
 * [batch, sequence, vocabulary] are compared by cosine and max |diff| instead.
 */
export function isClassifierOutput(shape: readonly (number | string)[] | undefined): boolean {
  return shape !== undefined && shape.length === 2;
}
