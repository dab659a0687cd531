// "Prune Model…" (explorer context menu, tree) and "Global Prune…" (palette):
// read the model first, then gather structured or not, method, amount, scope,
// how a global ranking compares layers, recovery, ignored layers and output name, then prune in the worker under a cancellable progress and
// offer the next steps. With an options argument nothing is asked: missing
// answers come from the settings, and an existing output is an error unless
// `overwrite` is set.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { allowPath } from '../trust';
import type { PruneReport } from '../../pruning/report';
import type { Scope } from '../../protocol';
import { log } from '../log';
import { isModelUri, resolveModel } from '../pick';
import { askCalibration, askOutput, parseAmount } from '../prompts';
import {
  CALIBRATED_MASK_METHODS, DATA_AWARE_METHODS, isOneOf, RECOVERY_METHODS, type CalibratedMaskMethod, type RecoveryMethod,
  type StructuredMethod,
} from '../../pruning/methods';
import {
  checkCalibration, DIALOG_STRUCTURED_METHODS, DIALOG_UNSTRUCTURED_METHODS, isCalibratedMask, needsCalibration, parseNm, planFromRequest,
  type CalibrationRequest, type PruneRequest,
} from '../pruneOps';
import type { Services } from '../services';
import { runPlanJob } from '../runPlanJob';
import { NORMALIZERS, type Normalizer } from '../../pruning/plan/types';
import { defaultOutputPath, readSettings, resolveWorkspacePath, type Settings } from '../settings';
import { guard, isOptions } from '../guard';

export interface PruneCommandOptions extends Partial<Omit<PruneRequest, 'calibration'>> {
  /**
   * Calibration data for wanda, activation-norm and recovery: a path (relative
   * to the model's folder) or `{ data, size }`. By default the
   * `pruneLens.calibration.data` and `.size` settings.
   */
  calibration?: string | CalibrationRequest;
  /** Output path; relative paths resolve against the model's folder. */
  output?: string;
  overwrite?: boolean;
}

const METHOD_ITEMS: Record<StructuredMethod, { label: string; detail: string }> = {
  l1: { label: 'L1 norm', detail: 'Remove filters (or weights) with the smallest sum of |w| (Li et al. 2017)' },
  l2: { label: 'L2 norm', detail: 'Remove filters (or weights) with the smallest Euclidean norm' },
  'bn-gamma': { label: 'BatchNorm γ', detail: 'Remove channels whose BatchNorm scale |γ| is smallest (network slimming); layers need a BN' },
  random: { label: 'Random', detail: 'A baseline: remove channels or weights at random' },
  wanda: { label: 'Wanda (|W|·‖X‖)', detail: 'Weight magnitude times input activation norm on calibration data (Sun et al. 2023); needs calibration data' },
  'activation-norm': { label: 'Activation norm', detail: 'Remove channels whose activations on calibration data are smallest; needs calibration data' },
  fluctuation: { label: 'Fluctuation (FLAP)', detail: 'Remove channels whose activations vary least on calibration data, weighted by the consumer weights; needs calibration data' },
};

/** Unstructured wanda and sparsegpt zero single weights, each layer on its own, measuring its inputs through the blocks already pruned. */
const CALIBRATED_ITEMS: Record<CalibratedMaskMethod, { label: string; detail: string }> = {
  wanda: { label: 'Wanda (|W|·‖X‖)', detail: 'Zero the weights with the smallest |W|·‖X‖ in each output row, X measured block by block (Sun et al. 2023)' },
  sparsegpt: { label: 'SparseGPT', detail: 'Zero weights and update the rest to make up for them, from each layer\'s Hessian (Frantar & Alistarh 2023); slower' },
};

const RECOVERY_ITEMS: Record<RecoveryMethod, { label: string; detail: string }> = {
  none: { label: 'None', detail: 'Keep the remaining weights as they are' },
  'least-squares': { label: 'Least-squares reconstruction', detail: 'Refit each layer that lost input channels to its original outputs on calibration data (ridge regression)' },
  'bias-compensation': { label: 'Bias compensation (FLAP)', detail: 'Move the mean contribution of the removed inputs into the bias of each layer that lost inputs; weights unchanged' },
  'bn-recalibration': { label: 'BatchNorm recalibration', detail: 'Recompute BatchNorm running statistics on calibration data; weights unchanged' },
};

export function pruneModelCommand(services: Services, scopeFixed?: Scope) {
  const title = scopeFixed === 'global' ? 'Global Prune' : 'Prune Model';
  return (arg?: unknown, optionsArg?: unknown) => {
    const options = isOptions(optionsArg) ? (optionsArg as PruneCommandOptions) : isOptions(arg) ? (arg as PruneCommandOptions) : undefined;
    return guard(title, options !== undefined, async () => {
      const target = await resolveModel(services, isModelUri(arg) || !isOptions(arg) ? arg : undefined, `${title}…`);
      if (!target) return undefined;
      const job = options ? await fromOptions(target, options, scopeFixed) : await ask(services, target, title, scopeFixed);
      if (!job) return undefined;
      return runPrune(services, target, job);
    });
  };
}

interface PruneJob {
  request: PruneRequest;
  output: string;
  overwrite: boolean;
  /** Asked in the dialog: a prune that nearly empties layers asks before writing. */
  interactive?: boolean;
}

async function fromOptions(model: vscode.Uri, o: PruneCommandOptions, scopeFixed?: Scope): Promise<PruneJob> {
  const s = readSettings(model);
  const method = o.method ?? s.defaultMethod;
  const structured = o.structured ?? s.defaultStructured;
  const allowed: readonly string[] = structured ? DIALOG_STRUCTURED_METHODS : DIALOG_UNSTRUCTURED_METHODS;
  if (!allowed.includes(method)) {
    throw new Error(`method "${method}" is not one of ${allowed.join(', ')}${structured ? ' (sparsegpt zeroes weights: pass structured: false)' : ' (activation-norm and fluctuation prune channels: pass structured: true)'}`);
  }
  const calibrated = isCalibratedMask({ method, structured });
  const nm = o.nm === undefined ? undefined : parseNm(o.nm);
  if (o.nm !== undefined && (!calibrated || !nm)) {
    throw new Error(calibrated ? `nm must be a pattern N:M with 0 < N < M, for example "2:4" (got ${JSON.stringify(o.nm)})` : 'nm applies to wanda and sparsegpt with structured: false');
  }
  if (calibrated && (scopeFixed ?? o.scope) === 'global') throw new Error(`${method} prunes each layer on its own; it has no global scope`);
  // An N:M pattern's sparsity stands for the amount (in the output name and the toast).
  const amount = nm ? 1 - nm.n / nm.m : o.amount ?? s.defaultAmount;
  if (!(amount > 0 && amount < 1)) throw new Error(`amount must be a fraction between 0 and 1 (got ${amount})`);
  const recovery = o.recovery ?? 'none';
  if (!isOneOf(RECOVERY_METHODS, recovery)) throw new Error(`recovery "${recovery}" is not one of ${RECOVERY_METHODS.join(', ')}`);
  if (recovery !== 'none' && !structured) throw new Error('recovery repairs structured prunes; pass structured: true');
  const request: PruneRequest = {
    method,
    amount,
    ...(nm ? { nm: `${nm.n}:${nm.m}` } : {}),
    scope: calibrated ? 'local' : scopeFixed ?? o.scope ?? s.defaultScope,
    structured,
    ignore: o.ignore,
    layers: o.layers,
    recovery,
    ...structuredDefaults(structured, s, o),
  };
  if (needsCalibration(request)) {
    const given = typeof o.calibration === 'string' ? { data: o.calibration } : o.calibration;
    // Data passed in is the caller's choice; the setting is the workspace's, so it must stay inside it.
    const data = given?.data ? path.resolve(path.dirname(model.fsPath), given.data)
      : s.calibrationData && await allowPath(resolveWorkspacePath(s.calibrationData, model),
        { what: 'calibration data', from: 'the setting pruneLens.calibration.data' }, { kind: 'open', interactive: false, near: model });
    if (!data) throw new Error(`${describeNeed(request)} needs calibration data: pass calibration, or set pruneLens.calibration.data`);
    request.calibration = checkCalibration({ data, size: given?.size ?? s.calibrationSize }, given?.data ? 'calibration' : 'pruneLens.calibration.data');
  }
  const output = o.output
    ? path.resolve(path.dirname(model.fsPath), o.output)
    : defaultOutputPath(model.fsPath, s.outputName, { method, amount });
  if (!o.overwrite && fs.existsSync(output)) throw new Error(`${output} already exists (pass overwrite: true to replace it)`);
  return { request, output, overwrite: o.overwrite === true };
}

/** A structured prune's normalizer, floor and rounding: given, else the settings. */
function structuredDefaults(structured: boolean, s: Settings, o: Partial<Pick<PruneRequest, 'normalizer' | 'maxRatio' | 'roundTo'>> = {}): Pick<PruneRequest, 'normalizer' | 'maxRatio' | 'roundTo'> {
  if (!structured) return {};
  const normalizer = o.normalizer ?? s.normalizer;
  if (!isOneOf(NORMALIZERS, normalizer)) throw new Error(`normalizer "${normalizer}" is not one of ${NORMALIZERS.join(', ')}`);
  return { normalizer, maxRatio: o.maxRatio ?? s.maxRatio, roundTo: o.roundTo ?? s.roundTo };
}

const NORMALIZER_ITEMS: Record<Normalizer, { label: string; detail: string }> = {
  mean: { label: 'Relative to each layer (mean)', detail: 'Each layer\'s scores divided by their mean: layers compete on relative importance (Torch-Pruning\'s default)' },
  max: { label: 'Relative to each layer\'s largest score (max)', detail: 'Each layer\'s scores divided by their maximum' },
  sum: { label: 'Relative to each layer\'s total (sum)', detail: 'Each layer\'s scores divided by their sum' },
  minmax: { label: 'Rescaled to [0, 1] per layer (minmax)', detail: 'Each layer\'s scores mapped to [0, 1]' },
  gaussian: { label: 'Standardised per layer (gaussian)', detail: 'Each layer\'s scores minus their mean, divided by their spread' },
  none: { label: 'Raw scores (none)', detail: 'Layers with small weights lose most, and can be emptied (the floor still keeps 10%)' },
};

/** Why calibration data is needed, for messages: "wanda", "least-squares recovery", "wanda with least-squares recovery". */
function describeNeed(r: Pick<PruneRequest, 'method' | 'recovery'>): string {
  const ranking = isOneOf(DATA_AWARE_METHODS, r.method) || isOneOf(CALIBRATED_MASK_METHODS, r.method) ? r.method : undefined;
  const recovery = r.recovery && r.recovery !== 'none' ? `${r.recovery} recovery` : undefined;
  return [ranking, recovery].filter(Boolean).join(' with ');
}

/** The QuickPick flow. Undefined when the user backs out at any step. */
async function ask(services: Services, model: vscode.Uri, title: string, scopeFixed?: Scope): Promise<PruneJob | undefined> {
  const s = readSettings(model);
  const name = path.basename(model.fsPath);
  // Read the model before asking anything: five questions about a file that cannot be read help nobody.
  const table = await services.cache.get(model);
  if (table.layers.length === 0) throw new Error(`${name} has no prunable layers (Conv, ConvTranspose, Gemm, MatMul with constant weights)`);
  // Unstructured prunes have no recovery step, only structured global ones ask how to compare layers; the count follows the answers.
  let structured = s.defaultStructured;
  let scope: Scope = scopeFixed ?? s.defaultScope;
  // wanda and sparsegpt zeroing weights prune each layer on its own: no scope to ask.
  let calibrated = false;
  const total = () => 5 + (scopeFixed || calibrated ? 0 : 1) + (structured ? 1 : 0) + (structured && scope === 'global' ? 1 : 0);
  let step = 0;
  const t = () => `${title}: ${name} (${++step}/${total()})`;

  const structurePick = await vscode.window.showQuickPick(
    [
      { label: 'Structured', detail: 'Remove whole channels: the model gets smaller and faster', structured: true },
      { label: 'Unstructured', detail: 'Set weights to zero: same shapes, sparse weights', structured: false },
    ].map((i) => ({ ...i, description: i.structured === s.defaultStructured ? 'default' : undefined })),
    { title: t(), placeHolder: 'Remove channels, or zero weights?', ignoreFocusOut: true },
  );
  if (!structurePick) return undefined;
  structured = structurePick.structured;

  // A global prune ranks across layers; wanda and sparsegpt zeroing weights work layer by layer, so Global Prune leaves them out.
  const methods: readonly (StructuredMethod | CalibratedMaskMethod)[] = structured ? DIALOG_STRUCTURED_METHODS
    : DIALOG_UNSTRUCTURED_METHODS.filter((m) => !(scopeFixed === 'global' && isOneOf(CALIBRATED_MASK_METHODS, m)));
  // Said beside the name, where it is never cut off: what they need, and which data they will use.
  const calibrationNote = s.calibrationData ? `needs calibration data · ${path.basename(s.calibrationData)}` : 'needs calibration data (asks for a file)';
  const methodPick = await vscode.window.showQuickPick(
    methods.map((m) => {
      const mask = !structured && isOneOf(CALIBRATED_MASK_METHODS, m);
      const item = mask ? CALIBRATED_ITEMS[m] : METHOD_ITEMS[m as StructuredMethod];
      return { ...item, method: m, description: m === s.defaultMethod ? 'default' : mask ? calibrationNote : undefined };
    }),
    { title: t(), placeHolder: structured ? 'How should channels be ranked?' : 'How should weights be ranked?', ignoreFocusOut: true },
  );
  if (!methodPick) return undefined;
  calibrated = isCalibratedMask({ method: methodPick.method, structured });

  const amountText = await vscode.window.showInputBox({
    title: t(),
    prompt: calibrated
      ? 'Sparsity of each layer: a fraction (0.5), a percentage (50%), or an N:M pattern (2:4 keeps 2 of every 4 weights)'
      : 'Amount to prune: a fraction (0.3) or a percentage (30%)',
    value: String(s.defaultAmount),
    ignoreFocusOut: true,
    validateInput: (v) => {
      if (parseAmount(v) !== undefined || (calibrated && parseNm(v))) return undefined;
      return calibrated ? 'Enter a fraction between 0 and 1, a percentage, or a pattern N:M with N < M (2:4)' : 'Enter a number between 0 and 1, or a percentage between 0% and 100%';
    },
  });
  if (amountText === undefined) return undefined;
  const nm = calibrated ? parseNm(amountText) : undefined;
  const amount = nm ? 1 - nm.n / nm.m : parseAmount(amountText)!;

  if (!scopeFixed && !calibrated) {
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

  // Raw norms differ by orders of magnitude between layers: a global ranking compares them normalised.
  let normalizer = s.normalizer;
  if (structured && scope === 'global') {
    const normalizerPick = await vscode.window.showQuickPick(
      (Object.keys(NORMALIZER_ITEMS) as Normalizer[]).map((n) => ({ ...NORMALIZER_ITEMS[n], normalizer: n, description: n === s.normalizer ? 'default' : undefined })),
      { title: t(), placeHolder: 'How should scores be compared across layers?', ignoreFocusOut: true },
    );
    if (!normalizerPick) return undefined;
    normalizer = normalizerPick.normalizer;
  }

  let recovery: RecoveryMethod = 'none';
  if (structured) {
    const recoveryPick = await vscode.window.showQuickPick(
      RECOVERY_METHODS.map((m) => ({ ...RECOVERY_ITEMS[m], recovery: m, description: m === 'none' ? 'default' : 'needs calibration data' })),
      { title: t(), placeHolder: 'Repair the pruned layers on calibration data afterwards?', ignoreFocusOut: true },
    );
    if (!recoveryPick) return undefined;
    recovery = recoveryPick.recovery;
  }

  const request: PruneRequest = {
    method: methodPick.method, amount, ...(nm ? { nm: `${nm.n}:${nm.m}` } : {}), scope: calibrated ? 'local' : scope, structured, recovery,
    ...structuredDefaults(structured, s, { normalizer }),
  };
  if (needsCalibration(request)) {
    const calibration = await askCalibration(model, s, describeNeed(request));
    if (!calibration) return undefined;
    request.calibration = calibration;
  }

  // Layers a structured prune keeps whole anyway (the model's output, ops without a rule) are listed last, marked.
  const groups = structured ? await services.cache.groups(model).catch(() => undefined) : undefined;
  const frozenReason = (layer: string) => groups?.[layer]?.frozen;
  const layerItems = table.layers.map((l) => {
    const frozen = frozenReason(l.name);
    return {
      label: frozen ? `$(lock) ${l.displayName}` : l.displayName,
      description: `${l.op} ${l.inChannels}→${l.outChannels}${frozen ? ' · kept whole anyway' : ''}`,
      detail: frozen ? `Not pruned in any case: ${frozen}` : l.name !== l.displayName ? l.name : undefined,
      layer: l.displayName,
      frozen: frozen !== undefined,
    };
  });
  const ignorePicks = await vscode.window.showQuickPick(
    [...layerItems.filter((i) => !i.frozen), ...layerItems.filter((i) => i.frozen)],
    { title: t(), placeHolder: 'Layers to leave alone (none selected: prune all); Enter to continue', canPickMany: true, ignoreFocusOut: true },
  );
  if (!ignorePicks) return undefined;
  request.ignore = ignorePicks.map((p) => p.layer);

  const out = await askOutput(model, defaultOutputPath(model.fsPath, s.outputName, { method: methodPick.method, amount }), t());
  if (!out) return undefined;
  return { request, ...out, interactive: true };
}

function fmtPercent(f: number): string {
  return `${+(f * 100).toFixed(2)}%`;
}

async function runPrune(services: Services, model: vscode.Uri, job: PruneJob): Promise<PruneReport> {
  const { request } = job;
  const label = [
    request.method, request.nm ?? fmtPercent(request.amount), isCalibratedMask(request) ? undefined : request.scope, request.structured ? 'structured' : 'unstructured',
    request.recovery && request.recovery !== 'none' ? `${request.recovery} recovery` : undefined,
    request.calibration ? `calibration ${request.calibration.data} (${request.calibration.size} samples)` : undefined,
    request.ignore?.length ? `ignoring ${request.ignore.join(', ')}` : undefined,
  ].filter(Boolean).join(', ');
  log().info(`pruning ${model.fsPath} (${label}) → ${job.output}`);
  return runPlanJob(services, model, planFromRequest(request), {
    output: job.output, overwrite: job.overwrite, baseDir: path.dirname(model.fsPath), title: `pruning ${path.basename(model.fsPath)}`,
    interactive: job.interactive,
  });
}
