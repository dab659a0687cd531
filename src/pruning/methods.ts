// The pruning methods, one spelling each. Plans, the CLI, the importance
// registry, the worker protocol, the extension and the report webview all use
// these words, and every union type of methods is derived from these lists.
// This file imports nothing, so any layer (the webview included) may use it.

/** Every way a plan step can rank or pick what it prunes. */
export const METHODS = ['l1', 'l2', 'random', 'threshold', 'nm', 'custom', 'bn-gamma', 'wanda', 'activation-norm', 'sparsegpt', 'fluctuation'] as const;
export type Method = (typeof METHODS)[number];

/** Methods that rank whole channels: a structured step (channels removed) takes these; each is a registered criterion. */
export const STRUCTURED_METHODS = ['l1', 'l2', 'random', 'bn-gamma', 'wanda', 'activation-norm', 'fluctuation'] as const satisfies readonly Method[];
export type StructuredMethod = (typeof STRUCTURED_METHODS)[number];

/** Methods that rank by activations on calibration data: they need calibration data (and onnxruntime). */
export const DATA_AWARE_METHODS = ['wanda', 'activation-norm', 'fluctuation'] as const satisfies readonly StructuredMethod[];
export type DataAwareMethod = (typeof DATA_AWARE_METHODS)[number];

/**
 * Methods that zero single weights of dense layers (structured: false) with
 * calibration data, block by block through the blocks already pruned, at a
 * sparsity `amount` or an `nm` pattern (pruning/unstructured/calibrated.ts).
 */
export const CALIBRATED_MASK_METHODS = ['wanda', 'sparsegpt'] as const satisfies readonly Method[];
export type CalibratedMaskMethod = (typeof CALIBRATED_MASK_METHODS)[number];

/** Ranking methods that need nothing but the weights: the extension's default method and hover preview. */
export const WEIGHT_METHODS = ['l1', 'l2', 'bn-gamma', 'random'] as const satisfies readonly StructuredMethod[];
export type WeightMethod = (typeof WEIGHT_METHODS)[number];

/** Methods a mask step (weights set to zero, shapes kept) can use. */
export const MASK_METHODS = ['l1', 'l2', 'random', 'threshold', 'nm', 'custom', 'bn-gamma'] as const satisfies readonly Method[];
export type MaskMethod = (typeof MASK_METHODS)[number];

/** Methods the report webview previews from the layer table alone (per-filter norms, BatchNorm |gamma|). */
export const PREVIEW_METHODS = ['l1', 'l2', 'bn-gamma'] as const satisfies readonly WeightMethod[];
export type PreviewMethod = (typeof PREVIEW_METHODS)[number];

/** How a structured step repairs the model on calibration data after removing channels (none: it does not). */
export const RECOVERY_METHODS = ['none', 'least-squares', 'bias-compensation', 'bn-recalibration'] as const;
export type RecoveryMethod = (typeof RECOVERY_METHODS)[number];

/** Whether `word` is one of `list` (narrowing it to the list's type). */
export function isOneOf<T extends string>(list: readonly T[], word: unknown): word is T {
  return (list as readonly unknown[]).includes(word);
}

/** Spellings that older plans, command lines and saved webview state may still hold. */
const OLD_SPELLINGS = new Map<string, Method>([
  ['gamma', 'bn-gamma'],
  ['bn_gamma', 'bn-gamma'],
]);

export interface MethodWord {
  method: Method;
  /** For an old spelling: a sentence telling the user to write the current one. */
  deprecated?: string;
}

/**
 * Reads a method a user wrote (a plan file, a command-line flag, a command
 * option, saved webview state): the method, with a deprecation warning when
 * the word is an old spelling, or undefined for a word that is no method.
 */
export function readMethod(word: unknown): MethodWord | undefined {
  if (isOneOf(METHODS, word)) return { method: word };
  const current = typeof word === 'string' ? OLD_SPELLINGS.get(word) : undefined;
  if (!current) return undefined;
  return { method: current, deprecated: `method "${word}" is the old spelling of "${current}"; write "${current}" (the old spelling will stop working in a later version)` };
}
