// "Sensitivity Analysis" and "Suggest Plan…": each channel group pruned alone
// at ratios 0.1 … 0.9 and measured on validation data in the worker
// (onnxruntime, so the workspace must be trusted). The curves go to the
// model's report webview; Suggest Plan also writes a *.prune.json that
// removes a chosen share of the MACs with the least predicted loss.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isOneOf, readMethod, STRUCTURED_METHODS, type StructuredMethod } from '../../pruning/methods';
import type { SensitivityReport } from '../../pruning/report';
import type { SensitivityJob, SensitivityResult } from '../../worker';
import { log } from '../log';
import { resolveModel } from '../pick';
import { withWork } from '../progress';
import { parseAmount } from '../prompts';
import type { Services } from '../services';
import { readSettings, resolveWorkspacePath } from '../settings';
import { allowPath, requireTrust } from '../trust';
import { guard, isOptions } from '../guard';
import { chooseModelData } from '../modelData';

export interface SensitivityCommandOptions {
  /** Validation inputs (.npy, .npz or folder); by default the `pruneLens.validation.data` setting. Relative to the model's folder. */
  data?: string;
  /** Class labels (.npy); by default `pruneLens.validation.labels`. Without labels the metric is agreement with the unpruned model. */
  labels?: string;
  /** At most this many samples; by default `pruneLens.validation.samples` (0: all). */
  samples?: number;
  ratios?: number[];
  /** How channels are ranked: l1 (default), l2, random, bn-gamma, wanda, activation-norm. */
  criterion?: string;
  ignore?: string[];
  /** Calibration data for wanda and activation-norm; by default the validation data. */
  calibration?: string;
  /** Show the curves in the model's report panel, opening it if needed (default true). */
  open?: boolean;
}

export interface SuggestPlanOptions extends SensitivityCommandOptions {
  /** Share of the model's MACs to remove, in (0, 1). Required. */
  target?: number;
  /** The plan file; by default `<model stem>.suggested.prune.json` next to the model. */
  output?: string;
  overwrite?: boolean;
}

export function sensitivityCommand(services: Services) {
  return (arg?: unknown, optionsArg?: unknown) => {
    const options = isOptions(optionsArg) ? (optionsArg as SensitivityCommandOptions) : undefined;
    return guard('Sensitivity Analysis', options !== undefined, async (): Promise<SensitivityReport | undefined> => {
      await requireTrust('Sensitivity analysis');
      const model = await resolveModel(services, arg, 'Sensitivity Analysis');
      if (!model) return undefined;
      const job = await sensitivityJob(services, model, options);
      if (!job) return undefined;
      const { report } = await measure(services, model, job, `sensitivity of ${path.basename(model.fsPath)}`);
      await showCurves(services, model, report, options?.open !== false);
      const message = `Sensitivity of ${path.basename(model.fsPath)}: ${await describe(services, model, report)}`;
      log().info(message);
      if (!options) void vscode.window.showInformationMessage(message);
      return report;
    });
  };
}

export function suggestPlanCommand(services: Services) {
  return (arg?: unknown, optionsArg?: unknown) => {
    const options = isOptions(optionsArg) ? (optionsArg as SuggestPlanOptions) : undefined;
    return guard('Suggest Plan', options !== undefined, async (): Promise<SensitivityResult | undefined> => {
      await requireTrust('Suggesting a plan from sensitivity analysis');
      const model = await resolveModel(services, arg, 'Suggest Plan…');
      if (!model) return undefined;
      const name = path.basename(model.fsPath);
      const target = options ? options.target : await askTarget(name);
      if (target === undefined) {
        if (options) throw new Error('pass target: the share of the MACs to remove, between 0 and 1');
        return undefined;
      }
      if (!(target > 0 && target < 1)) throw new Error(`the MAC reduction target must be a fraction between 0 and 1 (got ${target})`);
      const plan = await planFile(model, options);
      if (!plan) return undefined;
      const job = await sensitivityJob(services, model, options);
      if (!job) return undefined;
      job.suggest = { target, output: plan.file, overwrite: plan.overwrite };

      const result = await measure(services, model, job, `suggesting a plan for ${name}`);
      const suggestion = result.suggestion!;
      await showCurves(services, model, result.report, false);
      const summary = `MACs −${Math.round(suggestion.macsReduction * 100)}%, predicted ${result.report.metricName} loss ${(suggestion.predictedLoss * 100).toFixed(1)} points`;
      log().info(`suggested plan ${suggestion.file} for ${model.fsPath} (${summary})`);
      const planUri = vscode.Uri.file(suggestion.file);
      if (options?.open !== false) await vscode.window.showTextDocument(planUri);
      if (!options) {
        void vscode.window.showInformationMessage(`Suggested ${path.basename(suggestion.file)} (${summary})`, 'Apply Plan', 'Show Curves').then((choice) => {
          if (choice === 'Apply Plan') void vscode.commands.executeCommand('pruneLens.applyPlan', planUri);
          else if (choice === 'Show Curves') void services.reports.show(model, { sensitivity: result.report });
        });
      }
      return result;
    });
  };
}

/** The job's data and options, from `options`, the settings, or (interactively) file pickers. Undefined when the user backs out. */
async function sensitivityJob(services: Services, model: vscode.Uri, options?: SensitivityCommandOptions): Promise<SensitivityJob | undefined> {
  const s = readSettings(model);
  const fromModel = (p: string | undefined) => (p ? path.resolve(path.dirname(model.fsPath), p) : undefined);
  let data: string | undefined;
  let labels: string | undefined;
  let dataFrom = 'data';
  let labelsFrom = 'labels';
  if (options?.data) {
    data = fromModel(options.data);
    labels = fromModel(options.labels);
  } else if (!options) {
    // The data that belongs to this model: remembered, the setting if it fits, or asked for.
    const chosen = await chooseModelData(services, model, 'Sensitivity analysis', { allowGenerated: false });
    if (!chosen?.data) return undefined;
    ({ data, labels } = chosen);
    dataFrom = labelsFrom = `the data chosen for ${path.basename(model.fsPath)}`;
  } else if (s.validationData) {
    // The settings are the workspace's: their paths must stay inside it (or be picked in a dialog).
    const allow = (value: string, setting: string, what: string) =>
      allowPath(resolveWorkspacePath(value, model), { what, from: `the setting ${setting}` }, { kind: 'open', interactive: !options, near: model });
    data = await allow(s.validationData, 'pruneLens.validation.data', 'validation data');
    if (!data) return undefined;
    dataFrom = 'pruneLens.validation.data';
    // The labels setting goes with the data setting, never with data passed in.
    if (options?.labels) labels = fromModel(options.labels);
    else if (s.validationLabels) {
      labels = await allow(s.validationLabels, 'pruneLens.validation.labels', 'labels');
      if (!labels) return undefined;
    }
    if (!options?.labels) labelsFrom = 'pruneLens.validation.labels';
  }
  if (!data) throw new Error('sensitivity analysis measures the model on validation data: pass data, or set pruneLens.validation.data');
  if (!fs.existsSync(data)) throw new Error(`validation data not found: ${data} (from ${dataFrom})`);
  if (labels && !fs.existsSync(labels)) throw new Error(`labels not found: ${labels} (from ${labelsFrom})`);
  const samples = options?.samples ?? (s.validationSamples > 0 ? s.validationSamples : undefined);
  return {
    model: model.fsPath,
    data,
    labels,
    samples,
    ratios: options?.ratios,
    criterion: options?.criterion === undefined ? undefined : rankingMethod(options.criterion),
    ignore: options?.ignore,
    calibration: fromModel(options?.calibration),
  };
}

/** The criterion option in its current spelling; an old spelling is read, with a warning in the log. */
function rankingMethod(word: string): StructuredMethod {
  const read = readMethod(word);
  if (!read || !isOneOf(STRUCTURED_METHODS, read.method)) {
    throw new Error(`criterion "${word}" is not a method that ranks channels (one of ${STRUCTURED_METHODS.join(', ')})`);
  }
  if (read.deprecated) log().warn(read.deprecated);
  return read.method;
}


async function askTarget(name: string): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title: `Suggest Plan: ${name}`,
    prompt: 'Share of the MACs to remove: a fraction (0.5) or a percentage (50%). The plan picks a ratio per layer from the sensitivity curves.',
    value: '50%',
    ignoreFocusOut: true,
    validateInput: (v) => (parseAmount(v) === undefined ? 'Enter a number between 0 and 1, or a percentage between 0% and 100%' : undefined),
  });
  return text === undefined ? undefined : parseAmount(text);
}

/** Where the suggested plan goes; an existing file needs `overwrite` (or a "Replace"). */
async function planFile(model: vscode.Uri, options?: SuggestPlanOptions): Promise<{ file: string; overwrite: boolean } | undefined> {
  const dir = path.dirname(model.fsPath);
  const file = options?.output ? path.resolve(dir, options.output) : path.join(dir, `${path.basename(model.fsPath, path.extname(model.fsPath))}.suggested.prune.json`);
  if (!/\.prune\.json$/i.test(file)) throw new Error(`${path.basename(file)}: a plan file's name ends in .prune.json`);
  if (!fs.existsSync(file) || options?.overwrite) return { file, overwrite: options?.overwrite === true };
  if (options) throw new Error(`${file} already exists (pass overwrite: true to replace it)`);
  const choice = await vscode.window.showWarningMessage(`${path.basename(file)} already exists. Replace it?`, { modal: true }, 'Replace');
  return choice === 'Replace' ? { file, overwrite: true } : undefined;
}

/** Runs the job in the worker, with progress in the notification and in the model's open reports. */
async function measure(services: Services, model: vscode.Uri, job: SensitivityJob, title: string): Promise<SensitivityResult> {
  log().info(`${title}: data ${job.data}${job.labels ? `, labels ${job.labels}` : ', no labels (agreement)'}${job.criterion ? `, criterion ${job.criterion}` : ''}`);
  const shown = services.reports.progress(model, 'Sensitivity analysis');
  try {
    return await withWork(title, (work) =>
      services.jobs.sensitivity(job, model, {
        signal: work.signal,
        onProgress: (e) => {
          work.report(e.message, e.fraction);
          shown.report(e.message, e.fraction);
        },
      }),
    );
  } finally {
    shown.done();
  }
}

async function showCurves(services: Services, model: vscode.Uri, report: SensitivityReport, open: boolean): Promise<void> {
  services.reports.postSensitivity(model, report);
  if (open && services.reports.openCount(model) === 0) await services.reports.show(model, { sensitivity: report });
}

/** "6 channel groups, accuracy 99.4% unpruned; most sensitive: features.0.0 (62.1% at 50%)". */
async function describe(services: Services, model: vscode.Uri, report: SensitivityReport): Promise<string> {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const head = `${report.curves.length} channel groups, ${report.metricName} ${pct(report.baseline)} unpruned`;
  // The ratio nearest one half that every curve measured.
  const ratios = report.curves[0]?.ratios ?? [];
  const at = ratios.reduce<number | undefined>((best, r) => (best === undefined || Math.abs(r - 0.5) < Math.abs(best - 0.5) ? r : best), undefined);
  if (at === undefined) return head;
  const worst = report.curves
    .map((c) => ({ c, v: c.metric[c.ratios.indexOf(at)] }))
    .filter((x) => Number.isFinite(x.v))
    .sort((a, b) => a.v - b.v)[0];
  if (!worst) return head;
  const names = new Map((await services.cache.get(model).catch(() => undefined))?.layers.map((l) => [l.name, l.displayName]) ?? []);
  const label = (worst.c.layers ?? [worst.c.layer]).map((l) => names.get(l) ?? l).join(' + ');
  return `${head}; most sensitive: ${label} (${pct(worst.v)} at ${Math.round(at * 100)}%)`;
}
