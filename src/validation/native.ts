// The one gate before onnxruntime-node (native code) is loaded in a process
// (ortRuntime.ts loads it; this file loads nothing, so the client may import it).
// The extension starts its worker with NO_NATIVE_ENV set while the workspace
// is not trusted (restricted mode): plain pruning still runs there, but
// nothing native is loaded for a workspace's models or data, even if a request
// that needs it slips past the command's own trust check.

import { PruneLensError } from '../onnx/errors';

export const NO_NATIVE_ENV = 'PRUNE_LENS_NO_NATIVE';

/**
 * How every onnxruntime session Prune Lens opens treats memory (one table, so
 * validation and calibration agree). Weights are allocated outside the arena:
 * they live as long as the session anyway, and the arena would round each one
 * up to its bin size (resnet18's resident size at creation: 244 MiB through the
 * arena, 226 MiB outside it). The CPU arena itself stays on: run options can
 * shrink only an arena.
 *
 * What onnxruntime-node cannot take: the CUDA provider's gpu_mem_limit and
 * arena_extend_strategy. Its binding (1.30, session_options_helper.cc) reads
 * only `deviceId` from a provider entry, so the GPU arena's size follows the
 * work; what keeps it down is the shrinkage below, and the batch size.
 */
export const SESSION_MEMORY_OPTIONS = { session: { use_device_allocator_for_initializers: '1' } } as const;

/**
 * onnxruntime run options: after each run, give the arenas' free memory back,
 * so one large batch does not keep its activations for the rest of the job.
 * The CPU arena always; on CUDA also the GPU's (device 0, the one the session
 * opens).
 */
export function runOptions(provider = 'cpu'): { extra: { memory: { enable_memory_arena_shrinkage: string } } } {
  return { extra: { memory: { enable_memory_arena_shrinkage: provider === 'cuda' ? 'cpu:0;gpu:0' : 'cpu:0' } } };
}

/** Throws when this process may not load native code. */
export function assertNativeAllowed(): void {
  if (process.env[NO_NATIVE_ENV] === '1') {
    throw new PruneLensError('unsupported', 'onnxruntime (native code) is not loaded while the workspace is not trusted; trust the workspace to validate, calibrate or run sensitivity analysis');
  }
}
