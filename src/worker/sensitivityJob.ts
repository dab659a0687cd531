// Sensitivity analysis inside the worker, as `prune-lens sensitivity` runs it
// in the terminal: each channel group pruned alone at each ratio and measured
// on the validation data by onnxruntime; optionally a plan suggested from the
// curves and written atomically.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { PruneLensError } from '../onnx/errors';
import { loadModel, writeAtomic } from '../onnx/model';
import { DATA_AWARE_METHODS, isOneOf } from '../pruning/methods';
import { analyzeSensitivity, suggestPlan } from '../pruning/sensitivity';
import { DEFAULT_CALIBRATION_BATCH, openCalibration } from '../validation/activations';
import type { SensitivityJob, SensitivityResult } from './protocol';
import { JobProgress, watchSource, type WorkIO } from './workProgress';

const CANCELLED = 'sensitivity analysis was cancelled';
/** Shares of the job: reading the model and data before the curves, suggesting a plan after them. */
const LOAD_SHARE = 0.05;
const SUGGEST_SHARE = 0.05;

export async function runSensitivity(job: SensitivityJob, io: WorkIO): Promise<SensitivityResult> {
  const progress = new JobProgress(io, CANCELLED);
  const planFile = job.suggest && path.resolve(job.suggest.output);
  if (job.suggest && !(job.suggest.target > 0 && job.suggest.target < 1)) {
    throw new PruneLensError('plan', `the MAC reduction target must lie strictly between 0 and 1, not ${job.suggest.target}`);
  }
  if (planFile && !job.suggest!.overwrite && fs.existsSync(planFile)) {
    throw new PruneLensError('io', 'the plan file already exists; choose another name or allow replacing it', {}, planFile);
  }

  progress.phase('load', `reading ${path.basename(job.model)}`, 0);
  const model = await loadModel(job.model, { signal: io.signal });
  const batch = job.batch ?? DEFAULT_CALIBRATION_BATCH;
  progress.phase('load', `reading ${path.basename(job.data)}`, 0);
  const data = watchSource(await openCalibration(model, {
    data: job.data, labels: job.labels, size: job.samples ?? Number.MAX_SAFE_INTEGER, batch,
  }), progress);
  const calibration = job.calibration
    ? watchSource(await openCalibration(model, { data: job.calibration, batch }), progress) : undefined;

  const measureShare = 1 - LOAD_SHARE - (job.suggest ? SUGGEST_SHARE : 0);
  progress.phase('measure', `measuring on ${data.description}`, LOAD_SHARE);
  const report = await analyzeSensitivity(model, data, {
    ratios: job.ratios, criterion: job.criterion, ignore: job.ignore, calibration, signal: io.signal,
    onProgress: (p) => {
      if (p.done < p.total) progress.phase('measure', `group ${p.done + 1} of ${p.total}: ${p.layer}`, LOAD_SHARE + measureShare * (p.done / p.total));
    },
  });
  if (!job.suggest || !planFile) {
    progress.phase('measure', 'done', 1);
    return { report };
  }

  progress.phase('suggest', `suggesting a plan removing ${Math.round(job.suggest.target * 100)}% of the MACs`, 1 - SUGGEST_SHARE);
  const method = job.criterion ?? 'l1';
  // Data-aware steps rank by the data the curves were measured with; the plan names it relative to itself.
  const calibrationData = job.calibration ?? (isOneOf(DATA_AWARE_METHODS, method) ? job.data : undefined);
  const suggestion = await suggestPlan(model, report, {
    target: job.suggest.target, method,
    calibration: calibrationData ? { data: path.relative(path.dirname(planFile), path.resolve(calibrationData)) } : undefined,
  });
  progress.throwIfCancelled();
  await writeAtomic(planFile, [Buffer.from(JSON.stringify(suggestion.plan, null, 2) + '\n')]);
  if (io.signal.aborted) {
    // Cancelled while the plan was written: the caller hears "cancelled", so no plan is left behind.
    await fs.promises.rm(planFile, { force: true });
    throw new PruneLensError('cancelled', CANCELLED);
  }
  progress.phase('suggest', 'done', 1);
  return { report, suggestion: { ...suggestion, file: planFile } };
}
