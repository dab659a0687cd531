// The validation worker: a child process forked by the client. It owns the
// onnxruntime sessions, so a native crash or a hang takes down only this
// process. It runs validations, pruning plans and sensitivity analyses, one
// job at a time, and answers over the IPC channel.

import { PruneLensError } from '../onnx/errors';
import { runJob } from './validateJob';
import { CUDA_PATH_ENV, FromWorker, SerializedError, ToWorker, WorkerEvent, WorkerRequests } from './protocol';
import { loadOrt } from '../validation/ortRuntime';
import type { OrtRuntime } from '../validation/providers';
import { runPrunePlan } from './pruneJob';
import { runSensitivity } from './sensitivityJob';

if (!process.send) {
  console.error('The Prune Lens validation worker must be started by the validation client (child_process.fork).');
  process.exit(2);
}

const send = (message: FromWorker) => process.send!(message);
/** The cancel of each running request. */
const running = new Map<number, AbortController>();
let ort: OrtRuntime | undefined;

function serialize(e: unknown): SerializedError {
  if (e instanceof PruneLensError) return { code: e.code, detail: e.detail, file: e.file, location: e.location };
  return { code: 'internal', detail: e instanceof Error ? e.message : String(e) };
}

interface JobContext<Event> {
  progress(event: Event): void;
  signal: AbortSignal;
}

/** Runs one request's job and sends its result or error; progress goes out as it comes. */
async function serve<K extends keyof WorkerRequests>(id: number,
  work: (context: JobContext<WorkerRequests[K]['event']>) => Promise<WorkerRequests[K]['result']>): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    const result = await work({
      progress: (event: WorkerEvent) => send({ type: 'progress', id, event }),
      signal: controller.signal,
    });
    send({ type: 'result', id, result });
  } catch (e) {
    send({ type: 'error', id, error: serialize(e) });
  } finally {
    running.delete(id);
  }
}

process.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'cancel':
      running.get(message.id)?.abort();
      break;
    case 'validate':
      void serve<'validate'>(message.id, ({ progress, signal }) => {
        ort ??= loadOrt(process.env[CUDA_PATH_ENV] || undefined);
        return runJob(ort, message.job, { progress, isCancelled: () => signal.aborted });
      });
      break;
    case 'prunePlan':
      void serve<'prunePlan'>(message.id, (context) => runPrunePlan(message.job, context));
      break;
    case 'sensitivity':
      void serve<'sensitivity'>(message.id, (context) => runSensitivity(message.job, context));
      break;
  }
});

// The client going away (extension host closed, CLI killed) ends the worker too.
process.on('disconnect', () => process.exit(0));
// Ctrl-C in a terminal reaches the whole process group; the client decides
// when the worker stops (it cancels, then kills), so the worker ignores it.
process.on('SIGINT', () => undefined);
