// A worker thread that computes weight statistics from external data files
// (statsJob.ts), one tensor per request. Several run at once (statsPool.ts), so
// analysis uses every core. Bundled as dist/statsWorker.js.

import { parentPort } from 'node:worker_threads';
import { isPruneLensError } from '../onnx/errors';
import { runStatsJob, type StatsJob } from './statsJob';
import type { AxisStats } from './norms';

export type StatsRequest = { id: number; job: StatsJob };
export type StatsReply =
  | { id: number; progress: number }
  | { id: number; stats: AxisStats }
  | { id: number; error: { code: string; detail: string; location: object; message: string } };

/** Chunks are small; report progress about every 16 MB. */
const PROGRESS_BYTES = 16 * 1024 * 1024;

parentPort?.on('message', ({ id, job }: StatsRequest) => {
  const port = parentPort!;
  try {
    let pending = 0;
    const stats = runStatsJob(job, (n) => {
      pending += n;
      if (pending >= PROGRESS_BYTES) {
        port.postMessage({ id, progress: pending } satisfies StatsReply);
        pending = 0;
      }
    });
    if (pending) port.postMessage({ id, progress: pending } satisfies StatsReply);
    port.postMessage({ id, stats } satisfies StatsReply, [stats.l1a.buffer, stats.l2a.buffer, stats.l1b.buffer, stats.l2b.buffer] as ArrayBuffer[]);
  } catch (e) {
    const err = e as Error;
    port.postMessage({
      id,
      error: isPruneLensError(e)
        ? { code: e.code, detail: e.detail, location: e.location, message: e.message }
        : { code: 'internal', detail: err?.message ?? String(e), location: {}, message: err?.message ?? String(e) },
    } satisfies StatsReply);
  }
});
