// uri + (mtime, size) → LayerTable. Each file is analysed once per version,
// on demand (a tree expansion, a hover, a plan), and the result is shared by
// the tree, the hovers, the plan features and the report webview. Large files
// are analysed in a worker thread so the extension host stays responsive.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as vscode from 'vscode';
import type { LayerInfo, LayerTable } from '../analysis/types';
import { PruneLensError, type ErrorCode } from '../onnx/errors';
import type { AnalysisJob, AnalysisRequest, AnalysisResponse } from './analysisWorker';
import type { LayerGroups, PrunePreview } from './groups';
import { choiceKey, SETTING_NAME, type InputSizeChoice } from './inputSize';
import { withWork, type Work } from './progress';

/**
 * Files at least this big are analysed off the extension host's thread. Low on
 * purpose: size is only a proxy, and a 2.4 MB model of 3000 small layers takes
 * about a second to analyse (scripts/bench/modelsView.ts); the digits models
 * (under 400 KB) stay inline, where they take milliseconds.
 */
export const WORKER_THRESHOLD_BYTES = 1024 * 1024;

/**
 * An analysis that reads at least this much (the .onnx and its external data)
 * shows a cancellable progress notification, and so does any still running
 * after NOTIFY_AFTER_MS: a language model's weights take seconds to read.
 */
const NOTIFY_BYTES = 256 * 1024 * 1024;
const NOTIFY_AFTER_MS = 1000;

interface Entry {
  mtimeMs: number;
  size: number;
  /** The input size MACs were counted at (choiceKey): another size is another analysis. */
  inputKey: string;
  table: Promise<LayerTable>;
  /** The structured engine's channel groups, per previewed prune (JSON of it), computed on the first hover that wants them. */
  groups: Map<string, Promise<LayerGroups>>;
}

export class ModelCache implements vscode.Disposable {
  private readonly entries = new Map<string, Entry>();
  private worker?: Worker;
  private readonly pending = new Map<number, { resolve(r: unknown): void; reject(e: Error): void; progress?: (done: number, total: number) => void }>();
  private nextId = 1;
  /** How many analyses ran (not cache hits): the bench and tests read it. */
  analyses = 0;
  /** When an analysis shows its cancellable notification (tests lower these). */
  readonly notify = { bytes: NOTIFY_BYTES, afterMs: NOTIFY_AFTER_MS };

  /** `inputSize`: the input size to count a model's MACs at (the setting or its sample data), read on every get. */
  constructor(private readonly workerPath: string, private readonly inputSize: (uri: vscode.Uri) => InputSizeChoice = () => ({})) {}

  /** The analysis of the file's current version; analyses it when not cached. */
  async get(uri: vscode.Uri): Promise<LayerTable> {
    return (await this.entry(uri)).table;
  }

  /** The channel groups of the file's current version, by root layer (node name), with the preview's selection. */
  async groups(uri: vscode.Uri, preview?: PrunePreview): Promise<LayerGroups> {
    const entry = await this.entry(uri);
    const key = JSON.stringify(preview ?? null);
    let groups = entry.groups.get(key);
    if (!groups) {
      // The .onnx of a model in external data is small; the work is not: size by the table's bytes, data included.
      const size = Math.max(entry.size, await entry.table.then((t) => t.totals.bytes, () => entry.size));
      const computed = this.run<LayerGroups>(uri.fsPath, size, 'groups', preview);
      groups = computed;
      entry.groups.set(key, computed);
      computed.catch(() => {
        if (entry.groups.get(key) === computed) entry.groups.delete(key);
      });
    }
    return groups;
  }

  private async entry(uri: vscode.Uri): Promise<Entry> {
    const file = uri.fsPath;
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(file);
    } catch (e) {
      this.entries.delete(file);
      throw new PruneLensError('io', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message, {}, file);
    }
    const cached = this.entries.get(file);
    const choice = this.inputSize(uri);
    const inputKey = choiceKey(choice);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size && cached.inputKey === inputKey) return cached;
    this.analyses++;
    const table = this.analyse(file, stat.size, choice.stated).then((t) =>
      // A setting that could not be read is what the user needs to hear about, before any other misfit.
      choice.problem ? { ...t, inputShapeMisfit: { source: SETTING_NAME, reason: choice.problem } } : t);
    // The channel groups do not depend on the input size: keep them when only the size changed.
    const groups = cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size ? cached.groups : new Map<string, Promise<LayerGroups>>();
    const entry: Entry = { mtimeMs: stat.mtimeMs, size: stat.size, inputKey, table, groups };
    this.entries.set(file, entry);
    // A failed analysis is not cached: the user may fix the file, or it was a transient read error.
    table.catch(() => {
      if (this.entries.get(file) === entry) this.entries.delete(file);
    });
    return entry;
  }

  /**
   * The layer table, with a cancellable notification once the analysis turns
   * out to be long (NOTIFY_BYTES, NOTIFY_AFTER_MS). Cancel fails the analysis
   * with code 'cancelled' for everyone waiting on it; it is not cached, so the
   * next request starts afresh.
   */
  private analyse(file: string, size: number, inputShape: AnalysisJob['inputShape']): Promise<LayerTable> {
    const controller = new AbortController();
    let last: { done: number; total: number } | undefined;
    let work: Work | undefined;
    let notified = false;
    let settled = false;
    let endWork!: () => void;
    const ended = new Promise<void>((resolve) => (endWork = resolve));
    let reported = 0;
    const report = () => {
      // The inline analysis reports every chunk; the notification needs a few updates a second.
      if (!last || !work || (Date.now() - reported < 100 && last.done < last.total)) return;
      reported = Date.now();
      work.report(`${mib(last.done)} of ${mib(last.total)} MiB read`, last.done / last.total);
    };
    const notify = () => {
      if (notified || settled) return;
      notified = true;
      void withWork(`analysing ${path.basename(file)}`, async (w) => {
        work = w;
        if (w.signal.aborted) controller.abort();
        else w.signal.addEventListener('abort', () => controller.abort());
        report();
        await ended;
      }).catch(() => undefined);
    };
    const timer = setTimeout(notify, this.notify.afterMs);
    const table = this.run<LayerTable>(file, size, 'table', undefined, {
      inputShape,
      signal: controller.signal,
      onProgress: (done, total) => {
        last = { done, total };
        if (total >= this.notify.bytes) notify();
        report();
      },
    });
    const end = () => {
      settled = true;
      clearTimeout(timer);
      endWork();
    };
    table.then(end, end);
    return table;
  }

  /** The cached analysis if it is ready and current, without reading anything. */
  peek(uri: vscode.Uri): Promise<LayerTable> | undefined {
    return this.entries.get(uri.fsPath)?.table;
  }

  invalidate(uri: vscode.Uri): void {
    this.entries.delete(uri.fsPath);
  }

  /** Finds a layer by node name, module path or weight name. */
  async layer(uri: vscode.Uri, name: string): Promise<LayerInfo | undefined> {
    const table = await this.get(uri);
    return table.layers.find((l) => l.name === name || l.displayName === name || l.weightName === name);
  }

  /**
   * The layer table of a file analysed afresh (not cached) in the worker, with
   * progress and cancel: for long analyses of large models.
   */
  analyzeNow(file: string, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}): Promise<LayerTable> {
    return this.run<LayerTable>(file, Infinity, 'table', undefined, opts);
  }

  private run<T>(file: string, size: number, what: AnalysisJob['what'], preview?: PrunePreview,
    opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void; inputShape?: AnalysisJob['inputShape'] } = {}): Promise<T> {
    if (size < WORKER_THRESHOLD_BYTES) {
      // Imported here so activation never loads the analysis code.
      if (what === 'groups') return import('./groups').then((g) => g.analyzeGroups(file, preview) as Promise<T>);
      return import('../analysis').then((a) => a.analyzeFile(file, opts) as Promise<T>);
    }
    const worker = this.startWorker();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => worker.postMessage({ cancel: id } satisfies AnalysisRequest);
      const done = () => opts.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: (r) => { done(); resolve(r as T); },
        reject: (e) => { done(); reject(e); },
        progress: opts.onProgress,
      });
      worker.postMessage({ id, file, what, preview, progress: opts.onProgress !== undefined, inputShape: opts.inputShape } satisfies AnalysisRequest);
      if (opts.signal?.aborted) onAbort();
      else opts.signal?.addEventListener('abort', onAbort);
    });
  }

  private startWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.workerPath);
    worker.on('message', (m: AnalysisResponse) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      if ('progress' in m) return p.progress?.(m.progress.done, m.progress.total);
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new PruneLensError(m.error.code as ErrorCode, m.error.detail, m.error.location, m.error.file));
    });
    const fail = (why: string) => {
      for (const p of this.pending.values()) p.reject(new PruneLensError('internal', `the analysis worker ${why}`));
      this.pending.clear();
      if (this.worker === worker) this.worker = undefined;
    };
    worker.on('error', (e) => fail(`failed: ${e.message}`));
    worker.on('exit', (code) => fail(`exited (code ${code})`));
    // An idle worker must not keep the extension host alive on shutdown.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  dispose(): void {
    void this.worker?.terminate();
    this.worker = undefined;
    this.entries.clear();
  }
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}

export function analysisWorkerPath(extensionPath: string): string {
  return path.join(extensionPath, 'dist', 'analysisWorker.js');
}
