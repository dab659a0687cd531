// A worker thread that makes slices of tensors in external data files
// (slice.ts), one job (a chunk of rows) per request, and writes each at its
// place in the output file or only counts its zeros. Several run at once
// (slicePool.ts). Bundled as dist/sliceWorker.js.

import * as fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { isPruneLensError, PruneLensError } from './errors';
import { countZeroElements, runSliceJob, sliceBuffers, type SliceJob } from './slice';

export type SliceRequest = { id: number; job: SliceJob; position?: number; countZeros: boolean; fd?: number };
export type SliceReply =
  | { id: number; zeros: number }
  | { id: number; error: { code: string; detail: string; location: object; message: string; errno?: string; syscall?: string } };

const buffers = sliceBuffers();

parentPort?.on('message', ({ id, job, position, countZeros, fd }: SliceRequest) => {
  const port = parentPort!;
  try {
    const bytes = runSliceJob(job, buffers);
    const zeros = countZeros ? countZeroElements(bytes, job.slice.elemSize, job.slice.floating) : 0;
    if (position !== undefined) {
      if (fd === undefined) throw new PruneLensError('internal', 'a slice job that writes needs the output file');
      for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
    }
    port.postMessage({ id, zeros } satisfies SliceReply);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    port.postMessage({
      id,
      error: isPruneLensError(e)
        ? { code: e.code, detail: e.detail, location: e.location, message: e.message }
        : {
          code: 'internal', detail: err?.message ?? String(e), location: {}, message: err?.message ?? String(e),
          ...(typeof err?.code === 'string' && typeof err?.syscall === 'string' ? { errno: err.code, syscall: err.syscall } : {}),
        },
    } satisfies SliceReply);
  }
});
