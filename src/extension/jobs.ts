// The one worker process behind every long job: pruning plans, sensitivity
// analysis and validation run there, so onnxruntime (native code) and minutes
// of CPU work never run in the extension host. One long-lived WorkerClient,
// made on first use; the validation module is loaded only then.
//
// A cancel normally ends the job between calibration batches with no file
// written (the worker sees to that). A worker that does not stop within the
// grace period is killed, possibly mid-write: the files it was writing are
// removed here, so a cancel never leaves a file behind either way.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PruneReport } from '../pruning/report';
import type { ValidationReport } from '../validation';
import type { PrunePlanJob, SensitivityJob, SensitivityResult, ValidateOptions, WorkerClient, WorkProgress } from '../worker';
import { isCancellation, log } from './log';
import { readSettings } from './settings';
import { allowedCudaPath } from './trust';

/** A big model's calibration batch can take seconds; killing the worker mid-batch is the last resort. */
const CANCEL_GRACE_MS = 10_000;

export interface JobOptions {
  signal?: AbortSignal;
  onProgress?: (event: WorkProgress) => void;
}

export class WorkerJobs implements vscode.Disposable {
  private client?: WorkerClient;
  /** The CUDA folder the running worker was started with (the loader reads it only at process start). */
  private cudaPath?: string;
  /** Whether the running worker was started for a trusted workspace (else it may not load native code). */
  private trusted?: boolean;
  /** The memory budget the running worker was started with (its V8 heap limit is fixed at start). */
  private memoryLimitMb?: number;
  private running = 0;

  constructor(private readonly extensionPath: string) {}

  /** Runs `job.plan` on `job.model` in the worker; writes the output and its report. */
  async prunePlan(job: PrunePlanJob, near: vscode.Uri, options: JobOptions = {}): Promise<PruneReport> {
    return this.use(near, options, (client, o) => client.prunePlan(job, o), [job.output, `${job.output}.data`, `${job.output}.report.json`]);
  }

  /** Sensitivity curves, and with `job.suggest` a plan file. */
  async sensitivity(job: SensitivityJob, near: vscode.Uri, options: JobOptions = {}): Promise<SensitivityResult> {
    return this.use(near, options, (client, o) => client.sensitivity(job, o), job.suggest ? [job.suggest.output] : []);
  }

  /** Validation (validate.ts) on the shared worker. */
  async validate(options: Omit<ValidateOptions, 'client' | 'clientOptions'>, near: vscode.Uri): Promise<ValidationReport> {
    const { validate } = await import('../worker');
    return this.use(near, {}, (client) => validate({ ...options, client }), [], true);
  }

  dispose(): void {
    this.client?.dispose();
    this.client = undefined;
  }

  private async use<T>(near: vscode.Uri, options: JobOptions,
    run: (client: WorkerClient, options: JobOptions) => Promise<T>, outputs: string[], usesCuda = false): Promise<T> {
    const client = await this.clientFor(near, usesCuda);
    const before = new Map(outputs.map((f) => [f, mtime(f)]));
    // The worker's temp files carry its pid, which the client forgets once it kills the worker.
    let pid: number | undefined;
    const onProgress = (event: WorkProgress) => {
      pid ??= client.pid;
      options.onProgress?.(event);
    };
    this.running++;
    try {
      return await run(client, { signal: options.signal, onProgress });
    } catch (e) {
      if (isCancellation(e)) await removeLeftovers(before, pid);
      throw e;
    } finally {
      this.running--;
    }
  }

  private async clientFor(near: vscode.Uri, usesCuda: boolean): Promise<WorkerClient> {
    const s = readSettings(near);
    // Restricted mode: no CUDA folder, and a worker that refuses to load onnxruntime at all.
    const trusted = vscode.workspace.isTrusted;
    let cuda: string | undefined;
    try {
      cuda = trusted ? allowedCudaPath(near) : undefined;
    } catch (e) {
      // A refused CUDA folder stops validation (the only job that runs on CUDA), not a prune.
      if (usesCuda) throw e;
      log().warn(`${(e as Error).message} (this job runs on CPU and does not need it)`);
    }
    const memoryLimitMb = s.workerMemoryLimitMb;
    // A new CUDA folder, budget or a change of trust needs a new process; a running job keeps the old one until it ends.
    const same = this.cudaPath === cuda && this.trusted === trusted && this.memoryLimitMb === memoryLimitMb;
    if (this.client && (same || this.running > 0)) return this.client;
    this.client?.dispose();
    const { WorkerClient } = await import('../worker');
    this.client = new WorkerClient({
      workerPath: path.join(this.extensionPath, 'dist', 'worker.js'),
      cudaLibraryPath: cuda,
      allowNative: trusted,
      memoryLimitMb,
      cancelGraceMs: CANCEL_GRACE_MS,
    });
    this.cudaPath = cuda;
    this.trusted = trusted;
    this.memoryLimitMb = memoryLimitMb;
    return this.client;
  }
}

function mtime(file: string): number | undefined {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * After a cancel: outputs changed since the job started (a worker killed after
 * a rename), and the worker's temp files beside them (killed mid-write).
 */
async function removeLeftovers(before: Map<string, number | undefined>, pid: number | undefined): Promise<void> {
  for (const [file, was] of before) {
    const now = mtime(file);
    if (now !== undefined && now !== was) {
      log().warn(`removing ${file}: written by a job that was cancelled`);
      await fs.promises.rm(file, { force: true });
    }
    if (pid === undefined) continue;
    // The save's temp names (onnx/save.ts): .<name>.<pid>.<time>.<n>.tmp, and .tmp.old for the
    // previous file kept during a commit, which goes back in place.
    const prefix = `.${path.basename(file)}.${pid}.`;
    const dir = path.dirname(file);
    for (const name of await fs.promises.readdir(dir).catch(() => [] as string[])) {
      if (!name.startsWith(prefix)) continue;
      if (name.endsWith('.tmp')) await fs.promises.rm(path.join(dir, name), { force: true });
      else if (name.endsWith('.tmp.old')) await fs.promises.rename(path.join(dir, name), file).catch(() => undefined);
    }
  }
}
