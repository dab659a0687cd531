// One tensor's statistics computed from its bytes in an external data file,
// read a chunk of whole rows at a time: memory stays at one chunk however large
// the tensor. Runs in a stats worker (statsWorker.ts) or, without one, in-thread.

import * as fs from 'node:fs';
import { PruneLensError } from '../onnx/errors';
import { halfKernel } from './halfKernel';
import { AxisAccumulator, type AxisStats } from './norms';

export interface StatsJob {
  /** The data file, already resolved and checked against the model's folder. */
  file: string;
  offset: number;
  length: number;
  dataType: number;
  dims: number[];
  groups: number;
  tensor?: string;
}

/** Bytes read per chunk (rounded down to whole rows). */
const CHUNK = 1024 * 1024;
let plain = new Uint8Array(0);

/** Whole rows per chunk: about CHUNK bytes, in groups of four rows (the kernel's), at least one row. */
function chunkRows(rowBytes: number): number {
  const rows = Math.max(1, Math.floor(CHUNK / rowBytes));
  return rows >= 4 ? rows - (rows % 4) : rows;
}

/** Reads the job's bytes chunk by chunk and accumulates them; `onChunk` gets the bytes of each chunk. */
export function runStatsJob(job: StatsJob, onChunk?: (bytes: number) => void): AxisStats {
  const acc = new AxisAccumulator(undefined, job.dims, job.groups, job.dataType, job.tensor);
  const rowBytes = acc.rowBytes;
  const fd = fs.openSync(job.file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (job.offset + job.length > size) {
      throw new PruneLensError('external-data', `external data needs bytes ${job.offset}..${job.offset + job.length} of a file that has ${size}`, { tensor: job.tensor });
    }
    const chunk = rowBytes > 0 ? chunkRows(rowBytes) * rowBytes : CHUNK;
    // 16-bit floats are read straight into the SIMD kernel's memory (halfKernel.ts); the rest into a plain buffer.
    const kernel = acc.usesKernel ? halfKernel() : null;
    let buffer: Uint8Array;
    if (kernel) {
      kernel.reserve(chunk, chunk / rowBytes, acc.dims.length > 1 ? acc.dims[1] : 1);
      buffer = kernel.input(chunk);
    } else {
      if (plain.length < chunk) plain = new Uint8Array(chunk);
      buffer = plain;
    }
    for (let at = 0; at < job.length;) {
      const want = Math.min(chunk, job.length - at);
      let got = 0;
      while (got < want) {
        const n = fs.readSync(fd, buffer, got, want - got, job.offset + at + got);
        if (n === 0) throw new PruneLensError('external-data', 'the external data file shrank while it was read', { tensor: job.tensor });
        got += n;
      }
      acc.addRows(buffer.subarray(0, want));
      at += want;
      onChunk?.(want);
    }
  } finally {
    fs.closeSync(fd);
  }
  return acc.stats;
}
