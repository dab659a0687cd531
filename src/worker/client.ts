// Spawns and supervises the worker process, which runs validations, pruning
// plans and sensitivity analysis (onnxruntime and long CPU work stay out of
// the caller's process). Every request settles: with the worker's answer, or with
// an error when the worker crashes, is killed, stays silent too long, or is
// cancelled. A dead worker is replaced by a fresh one on the next request.

import { ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PruneLensError } from '../onnx/errors';
import type { PruneReport } from '../pruning/report';
import {
  CUDA_PATH_ENV, FromWorker, JobResult, PrunePlanJob, RequestType, SensitivityJob, SensitivityResult,
  ToWorker, ValidateJob, WorkProgress, WorkerRequests,
} from './protocol';
import { NO_NATIVE_ENV } from '../validation/native';
import { MEMORY_LIMIT_ENV, outOfMemory } from './memory';

export interface WorkerClientOptions {
  /** The bundled worker script; by default `worker.js` beside this bundle. */
  workerPath?: string;
  /** Node binary for the worker; by default the current one. */
  execPath?: string;
  /** A folder holding libonnxruntime_providers_cuda.so (and the CUDA libraries it needs). */
  cudaLibraryPath?: string;
  /** False: the worker may not load onnxruntime (native code), as in an untrusted workspace. Default true. */
  allowNative?: boolean;
  /**
   * The worker's memory budget in MiB: past it, the running job fails with "ran
   * out of memory at batch K; try a smaller batch size" and the next request gets
   * a fresh worker. V8's old space is capped at the same (at most 4096 MiB; our
   * batches and onnxruntime's buffers live outside it, so the worker also checks
   * its resident size after each batch). Default: three quarters of the machine's memory.
   */
  memoryLimitMb?: number;
  /** How long one provider may take to create a session before it is given up on. */
  sessionTimeoutMs?: number;
  /** The longest silence allowed from a busy worker (one batch of both models; one calibration batch). */
  idleTimeoutMs?: number;
  /** After a cancel, how long the worker has to stop before it is killed. */
  cancelGraceMs?: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (event: WorkProgress) => void;
}

/** The worker died or was killed: `kind` says how, `lastEvent` what it was doing. */
export class WorkerFailure extends PruneLensError {
  constructor(
    readonly kind: 'crash' | 'timeout' | 'spawn',
    detail: string,
    readonly lastEvent?: WorkProgress,
    readonly stderrTail = '',
  ) {
    super('internal', detail + (stderrTail ? `\nworker stderr (last lines):\n${stderrTail}` : ''));
  }
}

export const DEFAULTS = { sessionTimeoutMs: 60_000, idleTimeoutMs: 300_000, cancelGraceMs: 2_000 };
/** V8's old space holds little of a job's data (batches are Buffers, activations onnxruntime's): 4 GiB is plenty. */
const MAX_OLD_SPACE_MB = 4096;
const STDERR_TAIL_BYTES = 4096;
/** What each request is called in a cancellation message. */
const WHAT: Record<RequestType, string> = { validate: 'validation', prunePlan: 'pruning', sensitivity: 'sensitivity analysis' };

export class WorkerClient {
  private worker?: ChildProcess;
  private stderrTail = '';
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly options: Required<Omit<WorkerClientOptions, 'cudaLibraryPath' | 'execPath' | 'allowNative' | 'memoryLimitMb'>> & WorkerClientOptions;

  constructor(options: WorkerClientOptions = {}) {
    this.options = {
      ...DEFAULTS,
      ...options,
      workerPath: options.workerPath ?? path.join(__dirname, 'worker.js'),
    };
  }

  /** The memory budget of the worker, in MiB. */
  get memoryLimitMb(): number {
    return this.options.memoryLimitMb ?? Math.floor((os.totalmem() * 0.75) / 2 ** 20);
  }

  /** The worker's process id, while one is running. */
  get pid(): number | undefined {
    return this.worker?.pid;
  }

  /** Runs a pruned model and its original on the same data, on the first provider that works (validate.ts makes the report). */
  validate(job: ValidateJob, options: RunOptions = {}): Promise<JobResult> {
    return this.enqueue('validate', job, options);
  }

  /**
   * Runs a pruning plan on `job.model` and writes `job.output` and its report
   * (the report is returned). A cancel or failure leaves no output file.
   */
  prunePlan(job: PrunePlanJob, options: RunOptions = {}): Promise<PruneReport> {
    return this.enqueue('prunePlan', job, options);
  }

  /** Sensitivity curves of `job.model`, and with `job.suggest` a plan written to its output. */
  sensitivity(job: SensitivityJob, options: RunOptions = {}): Promise<SensitivityResult> {
    return this.enqueue('sensitivity', job, options);
  }

  /** Ends the worker. The client stays usable: the next run starts a new one. */
  dispose(): void {
    this.worker?.kill('SIGKILL');
    this.worker = undefined;
  }

  /** Runs requests one after another: the worker does one job at a time. */
  private enqueue<K extends RequestType>(type: K, job: WorkerRequests[K]['job'], options: RunOptions): Promise<WorkerRequests[K]['result']> {
    const result = this.queue.then(() => this.runNow(type, job, options));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private runNow<K extends RequestType>(type: K, job: WorkerRequests[K]['job'],
    { signal, onProgress }: RunOptions): Promise<WorkerRequests[K]['result']> {
    type Result = WorkerRequests[K]['result'];
    const cancelled = `${WHAT[type]} cancelled`;
    if (signal?.aborted) return Promise.reject(new PruneLensError('cancelled', cancelled));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      let lastEvent: WorkProgress | undefined;
      let watchdog: NodeJS.Timeout | undefined;
      let cancelling = false;
      const settle = (error: Error | undefined, result?: Result) => {
        clearTimeout(watchdog);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
        if (this.worker === worker) this.idle(worker);
        if (error) reject(error); else resolve(result!);
      };
      const arm = (ms: number, onExpire: () => void) => {
        clearTimeout(watchdog);
        watchdog = setTimeout(onExpire, ms);
      };
      const killFor = (error: Error) => {
        this.kill(worker);
        settle(error);
      };
      const armForEvent = () => {
        if (cancelling) return;
        if (lastEvent?.session) {
          const { provider, model } = lastEvent.session;
          arm(this.options.sessionTimeoutMs, () => killFor(new WorkerFailure('timeout',
            `creating the ${model} model's session on ${provider} did not finish within ${this.options.sessionTimeoutMs / 1000} s`, lastEvent, this.stderrTail)));
        } else {
          arm(this.options.idleTimeoutMs, () => killFor(new WorkerFailure('timeout',
            `the validation worker sent nothing for ${this.options.idleTimeoutMs / 1000} s${lastEvent ? ` (last: ${lastEvent.message})` : ''}`, lastEvent, this.stderrTail)));
        }
      };
      const onMessage = (message: FromWorker) => {
        if (message.id !== id) return;
        if (message.type === 'progress') {
          lastEvent = message.event;
          armForEvent();
          if (!cancelling) onProgress?.(message.event);
        } else if (cancelling) {
          settle(new PruneLensError('cancelled', cancelled));
        } else if (message.type === 'result') {
          settle(undefined, message.result as Result);
        } else {
          const { code, detail, location, file } = message.error;
          // A worker that ran out of memory is exiting; the next request must not be sent to it.
          if (code === 'memory') this.kill(worker);
          settle(new PruneLensError(code, detail, location, file));
        }
      };
      const onExit = (code: number | null, sig: NodeJS.Signals | null) => {
        // V8 gives up on its heap with a fatal error on stderr (no chance to answer).
        if (!cancelling && /heap out of memory|Reached heap limit|allocation failed/i.test(this.stderrTail)) {
          settle(outOfMemory(lastEvent?.batch));
          return;
        }
        const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
        const hint = sig === 'SIGKILL' ? ' (out of memory, or killed from outside)' : '';
        settle(cancelling
          ? new PruneLensError('cancelled', cancelled)
          : new WorkerFailure('crash', `the validation worker ${how}${hint}${lastEvent ? ` while ${lastEvent.message}` : ''}`, lastEvent, this.stderrTail));
      };
      const onAbort = () => {
        if (cancelling) return;
        cancelling = true;
        this.send(worker, { type: 'cancel', id });
        // The worker checks between batches; one that does not answer in time is stopped for good.
        arm(this.options.cancelGraceMs, () => killFor(new PruneLensError('cancelled', `${cancelled} (the worker did not stop in time and was killed)`)));
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      signal?.addEventListener('abort', onAbort);
      this.busy(worker);
      armForEvent();
      this.send(worker, { type, id, job } as ToWorker);
    });
  }

  private ensureWorker(): ChildProcess {
    if (this.worker && this.worker.exitCode === null && this.worker.signalCode === null && this.worker.connected) return this.worker;
    const workerPath = this.options.workerPath;
    if (!fs.existsSync(workerPath)) {
      throw new WorkerFailure('spawn', `the validation worker script is missing: ${workerPath} (run the build)`);
    }
    const env: NodeJS.ProcessEnv = { ...process.env, [MEMORY_LIMIT_ENV]: String(this.memoryLimitMb) };
    if (this.options.allowNative === false) env[NO_NATIVE_ENV] = '1';
    else delete env[NO_NATIVE_ENV];
    const cuda = this.options.cudaLibraryPath;
    if (cuda) {
      env[CUDA_PATH_ENV] = path.resolve(cuda);
      // The CUDA provider's own dependencies (cudart, cublas, cudnn) are found by the dynamic
      // loader, which reads LD_LIBRARY_PATH (PATH on Windows) only when the process starts.
      const key = process.platform === 'win32' ? 'Path' : 'LD_LIBRARY_PATH';
      env[key] = [path.resolve(cuda), env[key]].filter(Boolean).join(path.delimiter);
    }
    const worker = fork(workerPath, [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env,
      // Not the parent's flags: under tsx or a debugger they would follow the worker.
      execArgv: [`--max-old-space-size=${Math.min(this.memoryLimitMb, MAX_OLD_SPACE_MB)}`],
      execPath: this.options.execPath,
    });
    this.stderrTail = '';
    const keepTail = (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-STDERR_TAIL_BYTES);
    };
    worker.stderr?.on('data', keepTail);
    worker.stdout?.on('data', keepTail);
    worker.on('error', () => { /* reported through 'exit' or a failed send */ });
    worker.on('exit', () => { if (this.worker === worker) this.worker = undefined; });
    this.worker = worker;
    return worker;
  }

  private send(worker: ChildProcess, message: ToWorker): void {
    if (worker.connected) worker.send(message);
  }

  private kill(worker: ChildProcess): void {
    worker.kill('SIGKILL');
    if (this.worker === worker) this.worker = undefined;
  }

  // An idle worker must not keep the CLI (or a test run) alive; a busy one must.
  private busy(worker: ChildProcess): void {
    worker.ref();
    (worker.channel as { ref?(): void } | undefined)?.ref?.();
    for (const s of [worker.stdout, worker.stderr]) (s as unknown as { ref?(): void } | null)?.ref?.();
  }

  private idle(worker: ChildProcess): void {
    worker.unref();
    (worker.channel as { unref?(): void } | undefined)?.unref?.();
    for (const s of [worker.stdout, worker.stderr]) (s as unknown as { unref?(): void } | null)?.unref?.();
  }
}
