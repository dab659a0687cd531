// "Prune Model…" (explorer context menu, tree) and "Global Prune…" (palette):
// gather method, amount, scope, structured or not, ignored layers and output
// name, then prune under a cancellable progress and offer the next steps.
// With an options argument nothing is asked: missing answers come from the
// settings, and an existing output is an error unless `overwrite` is set.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PruneReport } from '../../pruning/report';
import type { Scope } from '../../protocol';
import { log } from '../log';
import { isModelUri, resolveModel } from '../pick';
import { withWork } from '../progress';
import { planFromRequest, prunePlanToFile, type PruneRequest } from '../pruneOps';
import type { Services } from '../services';
import { defaultOutputPath, PRUNE_METHODS, readSettings, type PruneMethod } from '../settings';
import { guard, isOptions } from './guard';

export interface PruneCommandOptions extends Partial<PruneRequest> {
  /** Output path; relative paths resolve against the model's folder. */
  output?: string;
  overwrite?: boolean;
}

const METHOD_ITEMS: Record<PruneMethod, { label: string; detail: string }> = {
  l1: { label: 'L1 norm', detail: 'Remove filters (or weights) with the smallest sum of |w| (Li et al. 2017)' },
  l2: { label: 'L2 norm', detail: 'Remove filters (or weights) with the smallest Euclidean norm' },
  'bn-gamma': { label: 'BatchNorm γ', detail: 'Remove channels whose BatchNorm scale |γ| is smallest (network slimming); layers need a BN' },
  random: { label: 'Random', detail: 'A baseline: remove channels or weights at random' },
};

export function pruneModelCommand(services: Services, scopeFixed?: Scope) {
  const title = scopeFixed === 'global' ? 'Global Prune' : 'Prune Model';
  return (arg?: unknown, optionsArg?: unknown) => {
    const options = isOptions(optionsArg) ? (optionsArg as PruneCommandOptions) : isOptions(arg) ? (arg as PruneCommandOptions) : undefined;
    return guard(title, options !== undefined, async () => {
      const target = await resolveModel(services, isModelUri(arg) || !isOptions(arg) ? arg : undefined, `${title}…`);
      if (!target) return undefined;
      const job = options ? fromOptions(target, options, scopeFixed) : await ask(services, target, title, scopeFixed);
      if (!job) return undefined;
      return runPrune(services, target, job);
    });
  };
}

interface PruneJob {
  request: PruneRequest;
  output: string;
  overwrite: boolean;
}

function fromOptions(model: vscode.Uri, o: PruneCommandOptions, scopeFixed?: Scope): PruneJob {
  const s = readSettings(model);
  const method = o.method ?? s.defaultMethod;
  if (!PRUNE_METHODS.includes(method)) throw new Error(`unknown method "${method}" (one of ${PRUNE_METHODS.join(', ')})`);
  const amount = o.amount ?? s.defaultAmount;
  if (!(amount > 0 && amount < 1)) throw new Error(`amount must be a fraction between 0 and 1 (got ${amount})`);
  const request: PruneRequest = {
    method,
    amount,
    scope: scopeFixed ?? o.scope ?? s.defaultScope,
    structured: o.structured ?? s.defaultStructured,
    ignore: o.ignore,
    layers: o.layers,
  };
  const output = o.output
    ? path.resolve(path.dirname(model.fsPath), o.output)
    : defaultOutputPath(model.fsPath, s.outputName, { method, amount });
  if (!o.overwrite && fs.existsSync(output)) throw new Error(`${output} already exists (pass overwrite: true to replace it)`);
  return { request, output, overwrite: o.overwrite === true };
}

/** The QuickPick flow. Undefined when the user backs out at any step. */
async function ask(services: Services, model: vscode.Uri, title: string, scopeFixed?: Scope): Promise<PruneJob | undefined> {
  const s = readSettings(model);
  const name = path.basename(model.fsPath);
  const steps = scopeFixed ? 5 : 6;
  let step = 0;
  const t = () => `${title}: ${name} (${++step}/${steps})`;

  const methodPick = await vscode.window.showQuickPick(
    PRUNE_METHODS.map((m) => ({ ...METHOD_ITEMS[m], method: m, description: m === s.defaultMethod ? 'default' : undefined })),
    { title: t(), placeHolder: 'How should channels or weights be ranked?', ignoreFocusOut: true },
  );
  if (!methodPick) return undefined;

  const amountText = await vscode.window.showInputBox({
    title: t(),
    prompt: 'Amount to prune: a fraction (0.3) or a percentage (30%)',
    value: String(s.defaultAmount),
    ignoreFocusOut: true,
    validateInput: (v) => (parseAmount(v) === undefined ? 'Enter a number between 0 and 1, or a percentage between 0% and 100%' : undefined),
  });
  if (amountText === undefined) return undefined;
  const amount = parseAmount(amountText)!;

  let scope: Scope = scopeFixed ?? s.defaultScope;
  if (!scopeFixed) {
    const scopePick = await vscode.window.showQuickPick(
      [
        { label: 'Local', detail: `Each layer loses ${fmtPercent(amount)} of its own channels or weights`, scope: 'local' as Scope },
        { label: 'Global', detail: 'One threshold across all layers: layers with weaker channels lose more', scope: 'global' as Scope },
      ].map((i) => ({ ...i, description: i.scope === s.defaultScope ? 'default' : undefined })),
      { title: t(), placeHolder: 'Per layer or across the model?', ignoreFocusOut: true },
    );
    if (!scopePick) return undefined;
    scope = scopePick.scope;
  }

  const structurePick = await vscode.window.showQuickPick(
    [
      { label: 'Structured', detail: 'Remove whole channels: the model gets smaller and faster', structured: true },
      { label: 'Unstructured', detail: 'Set weights to zero: same shapes, sparse weights', structured: false },
    ].map((i) => ({ ...i, description: i.structured === s.defaultStructured ? 'default' : undefined })),
    { title: t(), placeHolder: 'Remove channels, or zero weights?', ignoreFocusOut: true },
  );
  if (!structurePick) return undefined;

  const table = await services.cache.get(model);
  const ignorePicks = await vscode.window.showQuickPick(
    table.layers.map((l) => ({
      label: l.displayName,
      description: `${l.op} ${l.inChannels}→${l.outChannels}`,
      detail: l.name !== l.displayName ? l.name : undefined,
      layer: l.displayName,
    })),
    { title: t(), placeHolder: 'Layers to leave alone (none selected: prune all); Enter to continue', canPickMany: true, ignoreFocusOut: true },
  );
  if (!ignorePicks) return undefined;

  const out = await askOutput(model, defaultOutputPath(model.fsPath, s.outputName, { method: methodPick.method, amount }), t());
  if (!out) return undefined;
  return {
    request: { method: methodPick.method, amount, scope, structured: structurePick.structured, ignore: ignorePicks.map((p) => p.layer) },
    ...out,
  };
}

/** Asks for the output file; an existing file needs an explicit "Replace". The source is never allowed. */
export async function askOutput(model: vscode.Uri, suggested: string, title: string): Promise<{ output: string; overwrite: boolean } | undefined> {
  const dir = path.dirname(model.fsPath);
  let value = path.basename(suggested);
  for (;;) {
    const answer = await vscode.window.showInputBox({
      title,
      prompt: `Output file name (in ${vscode.workspace.asRelativePath(dir)})`,
      value,
      valueSelection: [0, Math.max(0, value.length - '.onnx'.length)],
      ignoreFocusOut: true,
      validateInput: (v) => {
        const trimmed = v.trim();
        if (!trimmed) return 'Enter a file name';
        if (!trimmed.toLowerCase().endsWith('.onnx')) return 'The output must be an .onnx file';
        if (path.resolve(dir, trimmed) === path.resolve(model.fsPath)) return 'The output must not replace the model being pruned';
        return undefined;
      },
    });
    if (answer === undefined) return undefined;
    const output = path.resolve(dir, answer.trim());
    if (!fs.existsSync(output)) return { output, overwrite: false };
    const choice = await vscode.window.showWarningMessage(
      `${path.basename(output)} already exists. Replace it?`,
      { modal: true },
      'Replace',
      'Choose Another Name',
    );
    if (choice === 'Replace') return { output, overwrite: true };
    if (choice === undefined) return undefined;
    value = answer.trim();
  }
}

export function parseAmount(text: string): number | undefined {
  const t = text.trim();
  const m = /^(\d+(?:\.\d*)?|\.\d+)\s*(%?)$/.exec(t);
  if (!m) return undefined;
  const v = m[2] ? Number(m[1]) / 100 : Number(m[1]);
  return v > 0 && v < 1 ? v : undefined;
}

function fmtPercent(f: number): string {
  return `${+(f * 100).toFixed(2)}%`;
}

async function runPrune(services: Services, model: vscode.Uri, job: PruneJob): Promise<PruneReport> {
  const { request } = job;
  const label = `${request.method}, ${fmtPercent(request.amount)}, ${request.scope}, ${request.structured ? 'structured' : 'unstructured'}`;
  log().info(`pruning ${model.fsPath} (${label}${request.ignore?.length ? `, ignoring ${request.ignore.join(', ')}` : ''}) → ${job.output}`);
  const report = await withWork(`pruning ${path.basename(model.fsPath)}`, (work) =>
    prunePlanToFile(model.fsPath, planFromRequest(request), job.output, {
      signal: work.signal,
      overwrite: job.overwrite,
      onProgress: (message, fraction) => work.report(message, fraction),
    }),
  );
  announcePruned(services, model, report);
  return report;
}

/** Logs the result, updates an open report, and offers the next steps (without waiting for a click). */
export function announcePruned(services: Services, model: vscode.Uri, report: PruneReport): void {
  const out = vscode.Uri.file(report.output);
  const t = report.totals;
  const change = (a: number, b: number) => (a ? `${Math.round((1 - b / a) * 100)}%` : '0%');
  const summary = report.structured
    ? `params −${change(t.paramsBefore, t.paramsAfter)}, MACs −${change(t.macsBefore, t.macsAfter)}`
    : `${(t.zerosAfter ?? 0) - (t.zerosBefore ?? 0)} weights zeroed`;
  log().info(`wrote ${report.output} (${summary})`);
  for (const w of report.warnings) log().warn(w);
  services.index.refresh();
  services.reports.postPruneReport(model, report);
  void vscode.window
    .showInformationMessage(`Pruned ${path.basename(model.fsPath)} → ${path.basename(report.output)} (${summary})`, 'Open Report', 'Validate', 'Reveal in Explorer')
    .then(async (choice) => {
      if (choice === 'Open Report') await services.reports.show(model, { report });
      else if (choice === 'Validate') await vscode.commands.executeCommand('pruneLens.validate', out);
      else if (choice === 'Reveal in Explorer') await vscode.commands.executeCommand('revealInExplorer', out);
    });
}
