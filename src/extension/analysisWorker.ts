// A worker thread that analyses one large model at a time, so the extension
// host (which also serves every other extension) is not blocked for the
// hundreds of milliseconds a big file takes. Bundled as dist/analysisWorker.js.

import { parentPort } from 'node:worker_threads';
import { analyzeFile, type AnalyzeOptions } from '../analysis';
import type { LayerTable } from '../analysis/types';
import { isPruneLensError } from '../onnx/errors';
import { analyzeGroups, type LayerGroups, type PrunePreview } from './groups';

export interface AnalysisJob {
  id: number;
  file: string;
  /** The layer table, or the structured engine's channel groups. */
  what: 'table' | 'groups';
  /** With 'groups': the structured prune whose selection to include. */
  preview?: PrunePreview;
  /** Send progress messages (bytes read of the .onnx and its external weights). */
  progress?: boolean;
  /** With 'table': the input size to count MACs at. */
  inputShape?: AnalyzeOptions['inputShape'];
}

/** A job, or the cancel of a running one (it then fails with code 'cancelled'). */
export type AnalysisRequest = AnalysisJob | { cancel: number };

export type AnalysisResponse =
  | { id: number; progress: { done: number; total: number } }
  | { id: number; ok: true; result: LayerTable | LayerGroups }
  | { id: number; ok: false; error: { code: string; detail: string; location: object; file?: string; message: string } };

/** Progress messages at most this often, per job. */
const PROGRESS_MS = 100;
const running = new Map<number, AbortController>();

parentPort?.on('message', async (request: AnalysisRequest) => {
  if ('cancel' in request) {
    running.get(request.cancel)?.abort();
    return;
  }
  const { id, file, what, preview, inputShape } = request;
  const controller = new AbortController();
  running.set(id, controller);
  let last = 0;
  const onProgress = request.progress ? (done: number, total: number) => {
    const now = Date.now();
    if (now - last < PROGRESS_MS && done < total) return;
    last = now;
    parentPort!.postMessage({ id, progress: { done, total } } satisfies AnalysisResponse);
  } : undefined;
  let response: AnalysisResponse;
  try {
    response = {
      id, ok: true,
      result: what === 'groups' ? await analyzeGroups(file, preview) : await analyzeFile(file, { signal: controller.signal, onProgress, inputShape }),
    };
  } catch (e) {
    // Classes do not survive postMessage: send the fields and rebuild the error there.
    const err = e as Error;
    response = isPruneLensError(e)
      ? { id, ok: false, error: { code: e.code, detail: e.detail, location: e.location, file: e.file, message: e.message } }
      : { id, ok: false, error: { code: 'internal', detail: err?.message ?? String(e), location: {}, file, message: err?.message ?? String(e) } };
  }
  running.delete(id);
  parentPort!.postMessage(response);
});
