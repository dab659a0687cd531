// Validating a pruned model against its original, as the CLI and the
// extension call it. This is the client's side: the worker runs both models
// on the same batches (validateJob.ts); this side retries past a provider that
// hung or crashed while creating its session, and adds file sizes, params and
// MACs to make the report.

import * as fs from 'node:fs';
import { RunOptions, WorkerClient, WorkerClientOptions, WorkerFailure } from './client';
import type { JobResult, ValidateJob } from './protocol';
import { ProviderName, defaultProviders, parseProviders } from '../validation/providers';
import type { ModelSide, ProviderAttempt, ValidationReport } from '../validation/report';
import type { DataSpec } from '../validation/datasets';

/** Counts a model's parameters and multiply-accumulates (the analysis module provides one). */
export type MeasureModel = (file: string) => Promise<{ params: number; macs: number }>;

export interface ValidateOptions extends RunOptions, Omit<DataSpec, 'batchSize'> {
  original: string;
  pruned: string;
  batchSize?: number;
  warmup?: number;
  /** Preference order; the platform default (CUDA, the bundled GPU provider, CPU) when absent. */
  providers?: readonly string[];
  measure?: MeasureModel;
  /** A client to reuse (its worker stays warm); otherwise one is made from `clientOptions` and ended after. */
  client?: WorkerClient;
  clientOptions?: WorkerClientOptions;
}

export const DEFAULT_BATCH_SIZE = 32;
export const DEFAULT_WARMUP = 3;

export async function validate(options: ValidateOptions): Promise<ValidationReport> {
  const client = options.client ?? new WorkerClient(options.clientOptions);
  try {
    const result = await runWithFallback(client, {
      original: options.original,
      pruned: options.pruned,
      data: options.data,
      labels: options.labels,
      samples: options.samples,
      seed: options.seed,
      dims: options.dims,
      batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
      warmup: options.warmup ?? DEFAULT_WARMUP,
      providers: parseProviders(options.providers ?? defaultProviders()),
    }, options);
    const original = await modelSide(options.original, result, 'original', options.measure);
    const pruned = await modelSide(options.pruned, result, 'pruned', options.measure);
    return {
      provider: result.provider,
      attempts: result.attempts,
      samples: result.samples,
      batchSize: result.batchSize,
      data: result.data,
      labels: result.labels,
      ...(result.comparison.tokens !== undefined ? { tokens: result.comparison.tokens } : {}),
      original,
      pruned,
      agreement: result.comparison.agreement,
      maxAbsDiff: result.comparison.maxAbsDiff,
      meanAbsDiff: result.comparison.meanAbsDiff,
      cosine: result.comparison.cosine,
      speedup: original.latency.p50 / pruned.latency.p50,
      output: result.output,
      ...(result.outputDims ? { outputShape: result.outputDims } : {}),
      warnings: result.warnings,
    };
  } finally {
    if (!options.client) client.dispose();
  }
}

/**
 * A provider whose session creation hangs or crashes the worker (a broken GPU
 * driver, say) costs one worker: note why, and go on with the providers after it.
 */
async function runWithFallback(client: WorkerClient, job: ValidateJob, run: RunOptions): Promise<JobResult> {
  const prior: ProviderAttempt[] = [];
  let providers: ProviderName[] = job.providers;
  for (;;) {
    const seen: ProviderAttempt[] = [];
    try {
      return await client.validate({ ...job, providers, priorAttempts: [...prior] }, {
        signal: run.signal,
        onProgress: (event) => {
          if (event.skipped) seen.push(event.skipped);
          run.onProgress?.(event);
        },
      });
    } catch (e) {
      const at = e instanceof WorkerFailure && e.kind !== 'spawn' ? e.lastEvent?.session : undefined;
      if (!(e instanceof WorkerFailure) || !at || at.provider === 'cpu') throw e;
      prior.push(...seen, { provider: at.provider, ok: false, reason: e.message.split('\n')[0] });
      providers = providers.slice(providers.indexOf(at.provider) + 1);
    }
  }
}

async function modelSide(file: string, result: JobResult, which: 'original' | 'pruned', measure?: MeasureModel): Promise<ModelSide> {
  let counts = { params: 0, macs: 0 };
  if (measure) {
    // Counting is a courtesy: a model onnxruntime runs but the analysis cannot read still gets validated.
    try {
      const { params, macs } = await measure(file);
      counts = { params, macs };
    } catch (e) {
      result.warnings.push(`params and MACs of ${file} not counted: ${(e as Error).message}`);
    }
  }
  const c = result.comparison;
  const accuracy = which === 'original' ? c.originalAccuracy : c.prunedAccuracy;
  const perplexity = which === 'original' ? c.originalPerplexity : c.prunedPerplexity;
  return {
    file,
    bytes: fs.statSync(file).size,
    ...counts,
    ...(accuracy !== undefined ? { accuracy } : {}),
    ...(perplexity !== undefined ? { perplexity } : {}),
    latency: result.latency[which],
  };
}
