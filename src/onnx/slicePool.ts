// Runs slice jobs (slice.ts) on worker threads, one per core, each pulling the
// next job when it is done: the cut weights of a pruned model are made from
// the source's data file on all cores, and each goes straight to its place in
// the output's data file (positional writes on the file descriptor, which the
// threads of a process share). The calling thread stays free to copy the
// unchanged tensors meanwhile. Small totals run in-thread, where starting
// workers would cost more than it saves.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { deferredSlice } from './deferred';
import { PruneLensError, type ErrorCode } from './errors';
import type { TensorProto } from './schema';
import { countZeroElements, runSliceJob, sliceBuffers, sliceJobs, type SliceJob } from './slice';
import type { SliceReply, SliceRequest } from './sliceWorker';

/** Below this many bytes in all, the jobs run in-thread. */
const MIN_POOL_BYTES = 64 * 1024 * 1024;
const MAX_THREADS = 4;

export interface SliceWork {
  job: SliceJob;
  /** Where the job's bytes go in the output file; undefined: the job only counts zeros. */
  position?: number;
  countZeros?: boolean;
}

export interface SlicePoolOptions {
  /** The output file's descriptor, for jobs that write (on worker threads). */
  fd?: number;
  /** Writes a job's bytes in this thread, for jobs that run in-thread (the writer's own write, which tests can fail). */
  write?: (bytes: Uint8Array, position: number) => Promise<void>;
  signal?: AbortSignal;
  /** Bytes made since the last call. */
  onProgress?: (bytes: number) => void;
  /** Worker threads (default: one per core, at most 4); 0 runs in-thread. */
  threads?: number;
}

/** Runs every job; returns the zeros each one counted (0 where it did not count). */
export async function runSlices(work: SliceWork[], opts: SlicePoolOptions = {}): Promise<number[]> {
  if (!work.length) return [];
  const total = work.reduce((n, w) => n + w.job.length, 0);
  const threads = Math.min(opts.threads ?? Math.min(MAX_THREADS, os.availableParallelism?.() ?? os.cpus().length), work.length);
  const writes = work.some((w) => w.position !== undefined);
  // An explicit thread count always uses workers (tests); the default only when it pays.
  const script = threads > 0 && (opts.threads !== undefined || total >= MIN_POOL_BYTES) && (!writes || opts.fd !== undefined)
    ? workerScript() : undefined;
  return script ? onWorkers(work, threads, script, opts) : inThread(work, opts);
}

function cancelled(): PruneLensError {
  return new PruneLensError('cancelled', 'writing was cancelled');
}

async function inThread(work: SliceWork[], opts: SlicePoolOptions): Promise<number[]> {
  const buffers = sliceBuffers();
  const zeros: number[] = [];
  for (const w of work) {
    if (opts.signal?.aborted) throw cancelled();
    const bytes = runSliceJob(w.job, buffers);
    zeros.push(w.countZeros ? countZeroElements(bytes, w.job.slice.elemSize, w.job.slice.floating) : 0);
    if (w.position !== undefined) {
      if (!opts.write) throw new PruneLensError('internal', 'slice jobs that write need a writer');
      await opts.write(bytes, w.position);
    }
    opts.onProgress?.(bytes.length);
  }
  return zeros;
}

function onWorkers(work: SliceWork[], threads: number, script: () => Worker, opts: SlicePoolOptions): Promise<number[]> {
  // Largest first, so that the threads finish together.
  const order = work.map((_, i) => i).sort((a, b) => work[b].job.length - work[a].job.length);
  return new Promise<number[]>((resolve, reject) => {
    const zeros: number[] = new Array(work.length).fill(0);
    const workers: Worker[] = [];
    let next = 0;
    let finished = 0;
    let settled = false;
    // Every worker has stopped before the promise settles: none may write into a file that is closed after.
    const end = (e?: unknown) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      void Promise.all(workers.map((w) => w.terminate())).then(() => (e === undefined ? resolve(zeros) : reject(e)));
    };
    const onAbort = () => end(cancelled());
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort);
    const give = (w: Worker) => {
      if (next >= order.length) return;
      const id = order[next++];
      const { job, position, countZeros } = work[id];
      w.postMessage({ id, job, position, countZeros: countZeros === true, fd: opts.fd } satisfies SliceRequest);
    };
    for (let i = 0; i < threads; i++) {
      const w = script();
      workers.push(w);
      w.on('message', (m: SliceReply) => {
        if (settled) return;
        if ('error' in m) return end(m.error.errno
          ? Object.assign(new Error(m.error.message), { code: m.error.errno, syscall: m.error.syscall })
          : new PruneLensError(m.error.code as ErrorCode, m.error.detail, m.error.location));
        zeros[m.id] = m.zeros;
        opts.onProgress?.(work[m.id].job.length);
        if (++finished === work.length) end();
        else give(w);
      });
      w.on('error', (e) => end(new PruneLensError('internal', `a slice worker failed: ${e.message}`)));
      w.on('exit', (code) => {
        if (finished < work.length) end(new PruneLensError('internal', `a slice worker exited (code ${code})`));
      });
      give(w);
    }
  });
}

/**
 * Counts the zeros of the deferred slices among `tensors` whose count is not
 * known yet (their source had zeros, or was not analysed), on worker threads.
 */
export async function countDeferredZeros(tensors: TensorProto[], opts: SlicePoolOptions = {}): Promise<void> {
  const owners: { zeros: number; jobs: number }[] = [];
  const work: SliceWork[] = [];
  const jobOwner: number[] = [];
  const seen = new Set<TensorProto>();
  for (const t of tensors) {
    const d = deferredSlice(t);
    if (!d || d.zeros !== undefined || seen.has(t)) continue;
    seen.add(t);
    for (const job of sliceJobs(d.slice)) {
      work.push({ job, countZeros: true });
      jobOwner.push(owners.length);
    }
    owners.push({ zeros: 0, jobs: 0 });
  }
  if (!work.length) return;
  const zeros = await runSlices(work, opts);
  zeros.forEach((z, i) => (owners[jobOwner[i]].zeros += z));
  let k = 0;
  for (const t of seen) deferredSlice(t)!.zeros = owners[k++].zeros;
}

/**
 * How to start a worker: the bundled dist/sliceWorker.js beside this bundle,
 * or, when running from source (tests, tsx), the .ts through tsx. Undefined
 * when neither is there: the jobs then run in-thread.
 */
function workerScript(): (() => Worker) | undefined {
  const built = path.join(__dirname, 'sliceWorker.js');
  if (fs.existsSync(built)) return () => new Worker(built);
  const source = path.join(__dirname, 'sliceWorker.ts');
  if (fs.existsSync(source)) {
    return () => new Worker(`require('tsx/cjs'); require(${JSON.stringify(source)});`, { eval: true });
  }
  return undefined;
}
