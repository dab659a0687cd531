// The one gate before onnxruntime-node (native code) is loaded in a process
// (ortRuntime.ts loads it; this file loads nothing, so the client may import it).
// The extension starts its worker with NO_NATIVE_ENV set while the workspace
// is not trusted (restricted mode): plain pruning still runs there, but
// nothing native is loaded for a workspace's models or data, even if a request
// that needs it slips past the command's own trust check.

import { PruneLensError } from '../onnx/errors';

export const NO_NATIVE_ENV = 'PRUNE_LENS_NO_NATIVE';

/**
 * onnxruntime run options: give the CPU arena's memory back after each run,
 * so one large batch does not keep its activations for the rest of the job.
 */
export const RUN_OPTIONS = { extra: { memory: { enable_memory_arena_shrinkage: 'cpu:0' } } };

/** Throws when this process may not load native code. */
export function assertNativeAllowed(): void {
  if (process.env[NO_NATIVE_ENV] === '1') {
    throw new PruneLensError('unsupported', 'onnxruntime (native code) is not loaded while the workspace is not trusted; trust the workspace to validate, calibrate or run sensitivity analysis');
  }
}
