// Runs stats jobs (statsJob.ts) on worker threads, one per core, each pulling
// the next tensor when it is done: a large model's weights are read and reduced
// on all cores at once, and the calling thread stays free. Small totals run
// in-thread, where starting workers would cost more than it saves.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { PruneLensError, type ErrorCode } from '../onnx/errors';
import type { AxisStats } from './norms';
import { runStatsJob, type StatsJob } from './statsJob';
import type { StatsReply, StatsRequest } from './statsWorker';

/** Below this many bytes in all, the jobs run in-thread. */
const MIN_POOL_BYTES = 64 * 1024 * 1024;
const MAX_THREADS = 4;

export interface StatsPoolOptions {
  signal?: AbortSignal;
  /** Bytes processed since the last call. */
  onProgress?: (bytes: number) => void;
  /** Worker threads (default: one per core, at most 4); 0 runs in-thread. */
  threads?: number;
}

/** Statistics for every job, in the jobs' order. */
export async function computeStats(jobs: StatsJob[], opts: StatsPoolOptions = {}): Promise<AxisStats[]> {
  const total = jobs.reduce((n, j) => n + j.length, 0);
  const threads = Math.min(opts.threads ?? Math.min(MAX_THREADS, os.availableParallelism?.() ?? os.cpus().length), jobs.length);
  // An explicit thread count always uses workers (tests); the default only when it pays.
  const script = threads > 0 && (opts.threads !== undefined || total >= MIN_POOL_BYTES) ? workerScript() : undefined;
  if (!script) return inThread(jobs, opts);
  return new Promise<AxisStats[]>((resolve, reject) => {
    const results: AxisStats[] = new Array(jobs.length);
    const workers: Worker[] = [];
    let next = 0;
    let finished = 0;
    let failed = false;
    const stop = (e: unknown) => {
      if (failed) return;
      failed = true;
      opts.signal?.removeEventListener('abort', onAbort);
      for (const w of workers) void w.terminate();
      reject(e);
    };
    const onAbort = () => stop(new PruneLensError('cancelled', 'analysis was cancelled'));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort);
    const give = (w: Worker) => {
      if (next >= jobs.length) return;
      const id = next++;
      w.postMessage({ id, job: jobs[id] } satisfies StatsRequest);
    };
    for (let i = 0; i < threads; i++) {
      const w = script();
      workers.push(w);
      w.on('message', (m: StatsReply) => {
        if (failed) return;
        if ('progress' in m) return opts.onProgress?.(m.progress);
        if ('error' in m) return stop(new PruneLensError(m.error.code as ErrorCode, m.error.detail, m.error.location));
        results[m.id] = m.stats;
        if (++finished === jobs.length) {
          opts.signal?.removeEventListener('abort', onAbort);
          for (const x of workers) void x.terminate();
          resolve(results);
        } else {
          give(w);
        }
      });
      w.on('error', (e) => stop(new PruneLensError('internal', `a stats worker failed: ${e.message}`)));
      w.on('exit', (code) => {
        if (finished < jobs.length) stop(new PruneLensError('internal', `a stats worker exited (code ${code})`));
      });
      give(w);
    }
  });
}

async function inThread(jobs: StatsJob[], opts: StatsPoolOptions): Promise<AxisStats[]> {
  const out: AxisStats[] = [];
  for (const job of jobs) {
    if (opts.signal?.aborted) throw new PruneLensError('cancelled', 'analysis was cancelled');
    out.push(runStatsJob(job, opts.onProgress));
  }
  return out;
}

/**
 * How to start a worker: the bundled dist/statsWorker.js beside this bundle,
 * or, when running from source (tests, tsx), the .ts through tsx. Undefined
 * when neither is there: the jobs then run in-thread.
 */
function workerScript(): (() => Worker) | undefined {
  const built = path.join(__dirname, 'statsWorker.js');
  if (fs.existsSync(built)) return () => new Worker(built);
  const source = path.join(__dirname, 'statsWorker.ts');
  if (fs.existsSync(source)) {
    return () => new Worker(`require('tsx/cjs'); require(${JSON.stringify(source)});`, { eval: true });
  }
  return undefined;
}
