// A worker thread that analyses one large model at a time, so the extension
// host (which also serves every other extension) is not blocked for the
// hundreds of milliseconds a big file takes. Bundled as dist/analysisWorker.js.

import { parentPort } from 'node:worker_threads';
import { analyzeFile } from '../analysis';
import type { LayerTable } from '../analysis/types';
import { isPruneLensError } from '../onnx/errors';
import { analyzeGroups, type LayerGroups, type PrunePreview } from './groups';

export interface AnalysisRequest {
  id: number;
  file: string;
  /** The layer table, or the structured engine's channel groups. */
  what: 'table' | 'groups';
  /** With 'groups': the structured prune whose selection to include. */
  preview?: PrunePreview;
}

export type AnalysisResponse =
  | { id: number; ok: true; result: LayerTable | LayerGroups }
  | { id: number; ok: false; error: { code: string; detail: string; location: object; file?: string; message: string } };

parentPort?.on('message', async ({ id, file, what, preview }: AnalysisRequest) => {
  let response: AnalysisResponse;
  try {
    response = { id, ok: true, result: what === 'groups' ? await analyzeGroups(file, preview) : await analyzeFile(file) };
  } catch (e) {
    // Classes do not survive postMessage: send the fields and rebuild the error there.
    const err = e as Error;
    response = isPruneLensError(e)
      ? { id, ok: false, error: { code: e.code, detail: e.detail, location: e.location, file: e.file, message: e.message } }
      : { id, ok: false, error: { code: 'internal', detail: err?.message ?? String(e), location: {}, file, message: err?.message ?? String(e) } };
  }
  parentPort!.postMessage(response);
});
