// What data-aware pruning needs from a runtime: run a model on the
// calibration batches and hand back named intermediate values, one batch at a
// time. The pruning core stays free of onnxruntime; the validation module
// implements this (src/validation/activations.ts) and the front ends pass it in.

import { PruneLensError } from '../../onnx/errors';
import type { OnnxModel } from '../../onnx/model';
import type { GramBackend } from './gram';
import type { ProductBackend } from './products';

/** One value of one batch: float32, row-major, dims[0] is the batch. */
export interface Activation {
  dims: number[];
  data: Float32Array;
}

export interface ActivationRun {
  /** The named values of calibration batch `batch` (0-based), computed by this run's model. */
  run(batch: number): Promise<Map<string, Activation>>;
  release(): Promise<void>;
}

/** A value of one batch as the runtime holds it (any element type), kept to feed a later segment. */
export interface HeldValue {
  readonly held: unknown;
}

/** A run of part of a model: from values held from the run before it to the values asked for. */
export interface SegmentRun {
  /**
   * Batch `batch`: `from` (held from the previous segment; graph inputs come
   * from the calibration data) in, the named float32 activations and the
   * values to hold for the next segment out.
   */
  run(batch: number, from: Map<string, HeldValue>): Promise<{ activations: Map<string, Activation>; held: Map<string, HeldValue> }>;
  release(): Promise<void>;
}

export interface ActivationSource {
  /** Calibration batches, and samples over all of them. */
  readonly batches: number;
  readonly samples: number;
  /** For reports: where the calibration data came from. */
  readonly description: string;
  /**
   * Opens `model` as it is now (later edits to it are not seen) so that runs
   * return the named values. Only the nodes those values need are computed.
   */
  open(model: OnnxModel, values: string[]): Promise<ActivationRun>;
  /**
   * Like `open`, for the nodes between held values `from` and the values asked
   * for (`values`, as float32 activations; `hold`, as they are). So a block by
   * block pass runs each block once instead of every block before it again.
   * Absent where the runtime cannot; it throws where it cannot type a value.
   */
  openSegment?(model: OnnxModel, from: string[], values: string[], hold: string[]): Promise<SegmentRun>;
  /** Class labels of batch `batch`, when the data came with labels. */
  labels(batch: number): Int32Array | undefined;
  /** Where the runtime can compute XᵀX faster than the JavaScript loop, its Gram products. */
  readonly gram?: GramBackend;
  /** Where the runtime can multiply float64 matrices faster than the JavaScript loop (SparseGPT's inverse and updates). */
  readonly products?: ProductBackend;
}

/** Per position along the channel axis of a value (1, or the last for Linear inputs): sum, sum of squares and how many elements each adds up. */
export interface ChannelStats {
  sum: Float64Array;
  sumSq: Float64Array;
  /** Elements per position: samples × the spatial size. */
  count: number;
}

/**
 * Streams the batches and folds each named value into per-channel statistics:
 * along axis 1 (NCHW), or along the axis `axes` gives the value (-1: the last,
 * where a transformer's Linear reads its features from [N, T, C]).
 */
export async function channelStatistics(source: ActivationSource, model: OnnxModel, values: string[],
  signal?: AbortSignal, axes?: Map<string, number>): Promise<Map<string, ChannelStats>> {
  const stats = new Map<string, ChannelStats>();
  if (!values.length) return stats;
  const run = await source.open(model, values);
  try {
    for (let b = 0; b < source.batches; b++) {
      if (signal?.aborted) throw new PruneLensError('cancelled', 'calibration was cancelled');
      for (const [name, a] of await run.run(b)) addChannelStats(stats, name, a, axes?.get(name));
    }
  } finally {
    await run.release();
  }
  return stats;
}

export function addChannelStats(stats: Map<string, ChannelStats>, name: string, a: Activation, axis = 1): void {
  const ax = axis < 0 ? a.dims.length + axis : axis;
  const channels = a.dims.length > ax ? a.dims[ax] : 1;
  const inner = a.dims.slice(ax + 1).reduce((p, d) => p * d, 1);
  const outer = a.dims.slice(0, ax).reduce((p, d) => p * d, 1);
  let s = stats.get(name);
  if (!s) stats.set(name, (s = { sum: new Float64Array(channels), sumSq: new Float64Array(channels), count: 0 }));
  if (s.sum.length !== channels) throw new PruneLensError('shape', `${channels} channels in one batch, ${s.sum.length} in another`, { tensor: name });
  const { data } = a;
  for (let n = 0; n < outer; n++) {
    for (let c = 0; c < channels; c++) {
      const base = (n * channels + c) * inner;
      let sum = 0;
      let sq = 0;
      for (let k = 0; k < inner; k++) {
        const v = data[base + k];
        sum += v;
        sq += v * v;
      }
      s.sum[c] += sum;
      s.sumSq[c] += sq;
    }
  }
  s.count += outer * inner;
}
