// Typed access to the `pruneLens.*` settings. Read on every use (never cached),
// so a change in the Settings editor applies to the next command.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { NORMALIZERS, STRUCTURED_DEFAULTS, type Normalizer } from '../pruning/plan/types';
import type { Scope } from '../protocol';
import { isOneOf, WEIGHT_METHODS, type WeightMethod } from '../pruning/methods';

export const SECTION = 'pruneLens';

/**
 * Structured prunes keep multiples of 8 channels by default: onnxruntime's CPU
 * convolutions run odd channel counts slowly (npm run bench, section latency:
 * the digits VGG pruned to 17/19/27/33 channels runs at 0.98x, rounded to
 * 24/24/32/40 at 1.19x; resnet18 1.68x vs 1.75x).
 */
export const DEFAULT_ROUND_TO = 8;

export interface Settings {
  executionProviders: string[];
  cudaLibraryPath: string;
  defaultMethod: WeightMethod;
  defaultAmount: number;
  defaultScope: Scope;
  defaultStructured: boolean;
  outputName: string;
  validationData: string;
  validationLabels: string;
  validationSamples: number;
  /** Samples per validation batch; undefined: the worker's default (the manifest states the same, a unit test checks). */
  validationBatchSize: number | undefined;
  /** The worker's memory budget in MiB; undefined: the client's default (three quarters of the machine's memory). */
  workerMemoryLimitMb: number | undefined;
  /** Inputs that data-aware criteria and recovery run through the model ('' when unset). */
  calibrationData: string;
  /** How many of them. */
  calibrationSize: number;
  /** Bytes: a pruned model whose protobuf would be larger goes to an external data file. */
  externalDataThreshold: number;
  /** |gamma| below this counts as a small (prunable-looking) BN scale in the tree and hovers. */
  gammaThreshold: number;
  /** Tokens per sample for the MACs of token models; 0: the sample data's length. */
  sequenceLength: number;
  /** Structured prunes: how scores are rescaled per layer before a global ranking. */
  normalizer: Normalizer;
  /** Structured prunes: no layer loses more than this fraction of its channels. */
  maxRatio: number;
  /** Structured prunes: keep a multiple of this many channels per layer (8 suits CPU inference; 1: no rounding). */
  roundTo: number;
  /** The input size MACs are counted at, as written in settings.json (read by inputSize.ts); undefined when unset. */
  assumedInputShape: unknown;
}

export function readSettings(scope?: vscode.Uri): Settings {
  const c = vscode.workspace.getConfiguration(SECTION, scope);
  // Machine settings (where native libraries come from) do not vary per folder.
  const machine = vscode.workspace.getConfiguration(SECTION);
  const amount = c.get<number>('defaultAmount', 0.3);
  const method = c.get<string>('defaultMethod', 'l1');
  const normalizer = c.get<string>('normalizer', STRUCTURED_DEFAULTS.normalizer);
  const maxRatio = c.get<number>('maxRatio', STRUCTURED_DEFAULTS.max_ratio);
  return {
    executionProviders: machine.get<string[]>('executionProviders', []),
    cudaLibraryPath: machine.get<string>('cudaLibraryPath', ''),
    defaultMethod: isOneOf(WEIGHT_METHODS, method) ? method : 'l1',
    // The schema bounds it, but settings.json can hold anything: fall back rather than prune 0% or 100%.
    defaultAmount: Number.isFinite(amount) && amount > 0 && amount < 1 ? amount : 0.3,
    defaultScope: c.get<string>('defaultScope') === 'global' ? 'global' : 'local',
    defaultStructured: c.get<boolean>('defaultStructured', true),
    outputName: c.get<string>('outputName', '${name}.pruned.onnx') || '${name}.pruned.onnx',
    validationData: c.get<string>('validation.data', ''),
    validationLabels: c.get<string>('validation.labels', ''),
    validationSamples: c.get<number>('validation.samples', 0),
    validationBatchSize: positiveInteger(c.get<number>('validation.batchSize'), 0) || undefined,
    workerMemoryLimitMb: positiveInteger(machine.get<number>('worker.memoryLimitMb', 0), 0) || undefined,
    calibrationData: c.get<string>('calibration.data', ''),
    calibrationSize: positiveInteger(c.get<number>('calibration.size', 256), 256),
    externalDataThreshold: externalThresholdBytes(c.get<number>('externalDataThreshold', DEFAULT_EXTERNAL_THRESHOLD_MB)),
    gammaThreshold: Math.abs(c.get<number>('gammaThreshold', 0.01)) || 0.01,
    sequenceLength: positiveInteger(c.get<number>('sequenceLength', 0), 0),
    normalizer: (NORMALIZERS as readonly string[]).includes(normalizer) ? (normalizer as Normalizer) : STRUCTURED_DEFAULTS.normalizer,
    maxRatio: Number.isFinite(maxRatio) && maxRatio > 0 && maxRatio <= 1 ? maxRatio : STRUCTURED_DEFAULTS.max_ratio,
    roundTo: positiveInteger(c.get<number>('roundTo', DEFAULT_ROUND_TO), DEFAULT_ROUND_TO),
    assumedInputShape: c.get<unknown>('assumedInputShape'),
  };
}

const DEFAULT_EXTERNAL_THRESHOLD_MB = 1800;

/** The setting is in MB (10^6 bytes); out-of-range values fall back to the default, never past protobuf's 2 GiB. */
function externalThresholdBytes(mb: unknown): number {
  const v = typeof mb === 'number' && Number.isFinite(mb) && mb >= 0 ? mb : DEFAULT_EXTERNAL_THRESHOLD_MB;
  return Math.min(v * 1e6, 2 ** 31 - 1);
}

function positiveInteger(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? v : fallback;
}

/**
 * The default output path for a pruned model: the `outputName` pattern
 * (`${name}` = stem, `${ext}` = extension, `${method}`, `${amount}` in percent),
 * resolved next to the source. Never the source itself.
 */
export function defaultOutputPath(source: string, pattern: string, vars: { method?: string; amount?: number } = {}): string {
  const ext = path.extname(source);
  const name = path.basename(source, ext);
  const file = pattern
    .replace(/\$\{name\}/g, name)
    .replace(/\$\{ext\}/g, ext.replace(/^\./, ''))
    .replace(/\$\{method\}/g, vars.method ?? 'pruned')
    .replace(/\$\{amount\}/g, vars.amount !== undefined ? String(Math.round(vars.amount * 100)) : '');
  // Only a file name: a pattern must not send output outside the model's folder.
  const out = path.join(path.dirname(source), path.basename(file.endsWith('.onnx') ? file : `${file}.onnx`));
  return path.resolve(out) === path.resolve(source) ? path.join(path.dirname(source), `${name}.pruned.onnx`) : out;
}

/** A setting's path, resolved against the workspace folder of `near` when relative. */
export function resolveWorkspacePath(p: string, near?: vscode.Uri): string {
  if (!p || path.isAbsolute(p)) return p;
  const folder = (near && vscode.workspace.getWorkspaceFolder(near)) ?? vscode.workspace.workspaceFolders?.[0];
  return folder ? path.join(folder.uri.fsPath, p) : path.resolve(p);
}
