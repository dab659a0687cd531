// Tensors whose data is a slice of a tensor in an external data file, not yet
// read. A structured prune of a model in external data cuts its weights this
// way; the writer (save.ts) then makes each slice straight from the source
// file into the output's data file, on worker threads, so no weight is held in
// memory. Whoever else asks for the bytes (tensorBytes, serializeModel) gets
// them made then, and the tensor becomes an ordinary in-memory one.

import type { TensorProto } from './schema';
import { clearTypedData, hasOwnData } from './tensorData';
import { runSliceJob, sliceBuffers, sliceBytes, sliceDims, sliceJobs, type TensorSlice } from './slice';

export interface DeferredSlice {
  readonly slice: TensorSlice;
  /** Bytes of the sliced data. */
  readonly length: number;
  /** Elements of the slice that are zero, once known (a slice of a tensor without zeros has none). */
  zeros?: number;
}

const deferred = new WeakMap<TensorProto, DeferredSlice>();

/** Makes `t` hold the slice: its dims become the kept sizes, its data is made when it is needed. */
export function deferSlice(t: TensorProto, slice: TensorSlice, zeros?: number): void {
  t.dims = sliceDims(slice);
  delete t.raw_data;
  clearTypedData(t);
  deferred.set(t, { slice, length: sliceBytes(slice), zeros });
}

/** The slice `t` holds, unless data of its own was put into it since. */
export function deferredSlice(t: TensorProto): DeferredSlice | undefined {
  const d = deferred.get(t);
  if (!d) return undefined;
  if (hasOwnData(t)) {
    deferred.delete(t);
    return undefined;
  }
  return d;
}

/** Makes the slice's bytes in memory, a chunk at a time, and ends the deferral: the caller keeps them as the tensor's data. */
export function takeDeferredBytes(t: TensorProto): Uint8Array | undefined {
  const d = deferredSlice(t);
  if (!d) return undefined;
  const out = new Uint8Array(d.length);
  const buffers = sliceBuffers();
  for (const job of sliceJobs(d.slice)) out.set(runSliceJob(job, buffers), job.at);
  deferred.delete(t);
  return out;
}
