// A pruning plan run inside the worker: the same runPlan + savePruned as
// `prune-lens prune`, with calibration (onnxruntime) for data-aware steps and
// recovery. Running it here keeps onnxruntime and minutes of CPU work out of
// the extension host. A cancelled or failed job leaves no output file.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { isPruneLensError, PruneLensError } from '../onnx/errors';
import { loadModel } from '../onnx/model';
import { drasticLayers, drasticWarning } from '../pruning/outcome';
import { reportPathFor, runPlan, savePruned } from '../pruning/plan';
import type { ActivationSource } from '../pruning/recovery/source';
import type { PruneReport } from '../pruning/report';
import { openCalibration } from '../validation/activations';
import type { PrunePlanJob } from './protocol';
import { JobProgress, watchSource, type WorkIO } from './workProgress';

const CANCELLED = 'pruning was cancelled';
/** Shares of the job: reading the model before the steps, writing the files after them. */
const LOAD_SHARE = 0.05;
const SAVE_SHARE = 0.05;
/** Within a step with recovery, the share before the first layer is refit (calibration, ranking, slicing). */
const BEFORE_REFIT_SHARE = 0.15;

export async function runPrunePlan(job: PrunePlanJob, io: WorkIO): Promise<PruneReport> {
  const progress = new JobProgress(io, CANCELLED);
  const source = path.resolve(job.model);
  const output = path.resolve(job.output);
  // Before any work: finding out after minutes of recovery that the file exists helps nobody.
  checkOutput(source, output, job.overwrite === true);

  progress.phase('load', `reading ${path.basename(source)}`, 0);
  const model = await loadModel(source, { signal: io.signal });

  const steps = job.plan.steps.length;
  const span = (1 - LOAD_SHARE - SAVE_SHARE) / Math.max(1, steps);
  const stepStart = (step: number) => LOAD_SHARE + step * span;
  const stepLabels: string[] = [];
  const sources: ActivationSource[] = [];
  const report = await runPlan(model, job.plan, {
    baseDir: job.planBaseDir,
    signal: io.signal,
    inputShape: job.inputShape,
    onProgress: (p) => {
      if (p.step >= p.steps) return;
      stepLabels[p.step] = `step ${p.step + 1}/${p.steps}: ${p.label}`;
      progress.phase('prune', stepLabels[p.step], stepStart(p.step));
    },
    calibrate: async (m, c) => {
      progress.phase('calibrate', `reading calibration data ${path.basename(c.data)}`, 0);
      const source = await openCalibration(m, { data: c.data, size: c.size, batch: c.batch });
      sources.push(source);
      return watchSource(source, progress);
    },
    onBlock: (b) => {
      if (b.done >= b.total) return;
      progress.phase('prune', `${stepLabels[b.step] ?? `step ${b.step + 1}`}: block ${b.block} (${b.done + 1} of ${b.total})`,
        stepStart(b.step) + span * (b.done / b.total));
    },
    onRecovery: (r) => {
      if (r.done >= r.total) return;
      const what = r.stage === 'bn' ? 'recalibrating BatchNorm' : 'refitting';
      progress.phase('recover', `${stepLabels[r.step] ?? `step ${r.step + 1}`}: ${what} ${r.layer} (${r.done + 1} of ${r.total})`,
        stepStart(r.step) + span * (BEFORE_REFIT_SHARE + (1 - BEFORE_REFIT_SHARE) * (r.done / r.total)));
    },
  }).catch((e: unknown) => {
    // A plan that does not fit the model is the plan file's problem: name it.
    throw job.planFile && isPruneLensError(e) && e.code === 'plan' ? e.inFile(job.planFile) : e;
  }).finally(() => Promise.all(sources.flatMap((s) => [s.gram?.release?.(), s.products?.release?.()])));

  progress.throwIfCancelled();
  if (job.confirmDrastic && drasticLayers(report).length) {
    // The plan runner's warning names the layers by their module paths.
    const warning = report.warnings.find((w) => /^\d+ layers? loses? more than/.test(w)) ?? drasticWarning(report)!;
    throw new PruneLensError('drastic', `${warning}; nothing was written`, {}, source);
  }
  progress.phase('save', `writing ${path.basename(output)}`, 1 - SAVE_SHARE);
  // A cancel while the files are written leaves none of them (and an overwritten output as it was).
  const saved = await savePruned(model, report, output, {
    overwrite: job.overwrite, externalThreshold: job.externalThreshold, signal: io.signal,
    onProgress: (done, total) => progress.phase('save', `writing ${path.basename(output)}`, 1 - SAVE_SHARE * (1 - done / total)),
  }).catch((e: unknown) => {
    throw isPruneLensError(e) && e.code === 'cancelled' ? new PruneLensError('cancelled', CANCELLED) : e;
  });
  progress.phase('save', 'done', 1);
  return saved;
}

function checkOutput(source: string, output: string, overwrite: boolean): void {
  if (output === source) throw new PruneLensError('io', 'the output would replace the model being pruned; choose another file name', {}, output);
  if (overwrite) return;
  for (const file of [output, reportPathFor(output)]) {
    if (fs.existsSync(file)) throw new PruneLensError('io', 'the output file already exists; choose another name or allow replacing it', {}, file);
  }
}
