// One validation inside the worker: open both models on the best provider,
// then run them on the same batches, timing each run and folding outputs into
// the comparison. Between batches it checks for cancellation.

import { checkMemory } from './memory';
import { runOptions } from '../validation/native';
import * as fs from 'node:fs';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { PruneLensError } from '../onnx/errors';
import { Batch, ModelInput, openDataset, typedView } from '../validation/datasets';
import { ComparisonAccumulator, latencyStats } from '../validation/metrics';
import type { JobResult, ValidateJob } from './protocol';
import { OrtRuntime, openSessionPair } from '../validation/providers';
import { JobProgress, type WorkIO } from './workProgress';

/** Latency percentiles need a few samples; with fewer batches than this, the first batch is timed again. */
export const MIN_TIMED_RUNS = 10;

export async function runValidate(ort: OrtRuntime, job: ValidateJob, io: WorkIO): Promise<JobResult> {
  const progress = new JobProgress(io, 'validation cancelled');
  for (const file of [job.original, job.pruned]) checkModelFile(file);
  const attempts = [...(job.priorAttempts ?? [])];
  const pair = await openSessionPair(ort, job, job.providers, {
    trying: (provider, model) => progress.phase('session', `creating the ${model} model's session on ${provider}`, 0, { session: { provider, model } }),
    skipped: (attempt) => progress.phase('session', `skipping ${attempt.provider}: ${attempt.reason ?? 'no reason given'}`, 0, { skipped: attempt }),
  }, attempts);
  try {
    const inputs = modelInputs(pair.original, job.original);
    checkSameInputs(inputs, modelInputs(pair.pruned, job.pruned), job.pruned);
    const dataset = openDataset(job, inputs, { sequenceLabels: true });
    progress.phase('load', `reading ${dataset.samples} samples from ${dataset.description}`, 0);

    const afterRun = runOptions(pair.provider);
    const output = pair.original.outputNames[0];
    const prunedOutput = pair.pruned.outputNames[0];
    const run = async (session: InferenceSession, name: string, batch: Batch) => {
      const feeds: Record<string, Tensor> = {};
      for (const [input, b] of Object.entries(batch.inputs)) feeds[input] = ort.makeTensor(b.type, typedView(b.data, b.type), b.dims);
      const start = process.hrtime.bigint();
      const result = await session.run(feeds, [name], afterRun);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      return { ms, values: asNumbers(result[name]), dims: result[name].dims.map(Number) };
    };

    const comparison = new ComparisonAccumulator();
    const timings = { original: [] as number[], pruned: [] as number[] };
    let timedSamples = 0;
    let done = 0;
    let outputDims: number[] | undefined;
    let firstBatch: Batch | undefined;
    const reader = dataset.open();
    try {
      for (let batch = await reader.next(), index = 0; batch; batch = await reader.next(), index++) {
        progress.throwIfCancelled();
        // Every batch is announced before it runs: a worker that dies of memory is known to have died there.
        progress.batch(index, Math.ceil(dataset.samples / dataset.batchSize), true);
        if (index === 0) firstBatch = batch;
        if (index === 0 && job.warmup > 0) {
          progress.phase('warmup', 'warming up', 0);
          for (let w = 0; w < job.warmup; w++) {
            await run(pair.original, output, batch);
            await run(pair.pruned, prunedOutput, batch);
          }
        }
        // Alternate which model goes first, so caches and clock boosts favour neither.
        const originalFirst = index % 2 === 0;
        const first = await (originalFirst ? run(pair.original, output, batch) : run(pair.pruned, prunedOutput, batch));
        const second = await (originalFirst ? run(pair.pruned, prunedOutput, batch) : run(pair.original, output, batch));
        const [a, b] = originalFirst ? [first, second] : [second, first];
        if (a.values.length !== b.values.length) {
          throw new PruneLensError('validation', `the models' outputs differ in size (${a.values.length / batch.rows} and ${b.values.length / batch.rows} values per sample); they cannot be compared`);
        }
        outputDims ??= a.dims.slice();
        const predictions = predictionRows(a.dims, batch.rows, dataset.labelsPerSample, output);
        checkLabelRange(batch, a.values.length / predictions);
        comparison.add(a.values, b.values, predictions, batch.labels, dataset.labelsPerSample > 1 ? batch.rows : undefined);
        // A short last batch would skew per-batch latency; time full batches only.
        if (batch.rows === dataset.batchSize || dataset.samples < dataset.batchSize) {
          timings.original.push(a.ms);
          timings.pruned.push(b.ms);
          timedSamples += batch.rows;
        }
        checkMemory();
        done += batch.rows;
        progress.phase('measure', `running batches (${done} of ${dataset.samples} samples done)`, done / dataset.samples, { samples: { done, total: dataset.samples } });
        // Let a 'cancel' message in before the next batch.
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Few batches give a noisy median: time more runs of the first batch (outputs already counted).
      for (let extra = 0; firstBatch && timings.original.length < MIN_TIMED_RUNS; extra++) {
        progress.throwIfCancelled();
        const originalFirst = extra % 2 === 1;
        const a = await (originalFirst ? run(pair.original, output, firstBatch) : run(pair.pruned, prunedOutput, firstBatch));
        const b = await (originalFirst ? run(pair.pruned, prunedOutput, firstBatch) : run(pair.original, output, firstBatch));
        timings.original.push(originalFirst ? a.ms : b.ms);
        timings.pruned.push(originalFirst ? b.ms : a.ms);
        timedSamples += firstBatch.rows;
      }
    } finally {
      reader.close();
    }
    return {
      provider: pair.provider,
      attempts: pair.attempts,
      data: dataset.description,
      samples: done,
      batchSize: dataset.batchSize,
      labels: dataset.hasLabels,
      output,
      ...(outputDims ? { outputDims } : {}),
      comparison: comparison.result(),
      latency: { original: latencyStats(timings.original, timedSamples), pruned: latencyStats(timings.pruned, timedSamples) },
      warnings: dataset.warnings,
    };
  } finally {
    await Promise.all([pair.original.release(), pair.pruned.release()]);
  }
}

function checkModelFile(file: string): void {
  let size: number;
  try { size = fs.statSync(file).size; } catch { throw new PruneLensError('io', 'model file not found', {}, file); }
  if (size === 0) throw new PruneLensError('validation', 'model file is empty', {}, file);
}

function modelInputs(session: InferenceSession, file: string): ModelInput[] {
  return session.inputMetadata.map((m) => {
    if (!m.isTensor) throw new PruneLensError('unsupported', `input '${m.name}' is not a tensor`, {}, file);
    return { name: m.name, type: m.type, shape: [...m.shape] };
  });
}

function checkSameInputs(original: ModelInput[], pruned: ModelInput[], prunedFile: string): void {
  const describe = (inputs: ModelInput[]) => inputs.map((i) => `${i.name} [${i.shape.join(', ')}] ${i.type}`).join('; ');
  const key = (inputs: ModelInput[]) => inputs.map((i) => `${i.name}:${i.type}:${i.shape.slice(1).join(',')}`).join('|');
  if (key(original) !== key(pruned)) {
    throw new PruneLensError('validation', `the pruned model's inputs (${describe(pruned)}) differ from the original's (${describe(original)})`, {}, prunedFile);
  }
}

/**
 * The rows of predictions in one batch's output: one per sample, or with
 * targets per position ([N, T] labels) one per token, where the output must
 * be logits [N, T, V] (a language model's next-token predictions).
 */
function predictionRows(dims: number[], samples: number, labelsPerSample: number, output: string): number {
  if (labelsPerSample === 1) return samples;
  if (dims.length !== 3 || dims[0] !== samples || dims[1] !== labelsPerSample) {
    throw new PruneLensError('validation',
      `the labels hold ${labelsPerSample} targets per sample ([N, T]), which needs logits of shape [N, ${labelsPerSample}, V]; output '${output}' has shape [${dims.join(', ')}]`);
  }
  return samples * labelsPerSample;
}

function checkLabelRange(batch: Batch, classes: number): void {
  if (!batch.labels) return;
  for (const label of batch.labels) {
    if (label < 0 || label >= classes) throw new PruneLensError('validation', `label ${label} is outside the model's ${classes} classes`);
  }
}

function asNumbers(tensor: Tensor): ArrayLike<number> {
  const data = tensor.data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  if (Array.isArray(data)) throw new PruneLensError('unsupported', `output of type ${tensor.type} cannot be compared`);
  return data as ArrayLike<number>;
}
