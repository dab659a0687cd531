// The worker: a child process forked by the client. It owns the onnxruntime
// sessions, so a native crash or a hang takes down only this process. It runs
// validations, pruning plans and sensitivity analyses, one job at a time, and
// answers over the IPC channel.

import { PruneLensError } from '../onnx/errors';
import { runValidate } from './validateJob';
import { CUDA_PATH_ENV, FromWorker, SerializedError, ToWorker, WorkerRequests } from './protocol';
import { loadOrt } from '../validation/ortRuntime';
import type { OrtRuntime } from '../validation/providers';
import { atBatch, isAllocationFailure, outOfMemory } from './memory';
import { runPrunePlan } from './pruneJob';
import { runSensitivity } from './sensitivityJob';
import type { WorkIO } from './workProgress';

if (!process.send) {
  console.error('The Prune Lens worker must be started by the worker client (child_process.fork).');
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

/** Runs one request's job and sends its result or error; progress goes out as it comes. */
async function serve<K extends keyof WorkerRequests>(id: number, work: (io: WorkIO) => Promise<WorkerRequests[K]['result']>): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    const result = await work({
      progress: (event) => send({ type: 'progress', id, event }),
      signal: controller.signal,
    });
    send({ type: 'result', id, result });
  } catch (e) {
    if (isAllocationFailure(e)) {
      // Native memory may be left fragmented or held: answer, then make way for a fresh worker.
      const error = e instanceof PruneLensError && e.code === 'memory' ? e : outOfMemory();
      process.send!({ type: 'error', id, error: serialize(error) } satisfies FromWorker, () => process.exit(0));
      return;
    }
    send({ type: 'error', id, error: serialize(e) });
  } finally {
    running.delete(id);
    atBatch(undefined);
  }
}

process.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'cancel':
      running.get(message.id)?.abort();
      break;
    case 'validate':
      void serve<'validate'>(message.id, (io) => {
        ort ??= loadOrt(process.env[CUDA_PATH_ENV] || undefined);
        return runValidate(ort, message.job, io);
      });
      break;
    case 'prunePlan':
      void serve<'prunePlan'>(message.id, (io) => runPrunePlan(message.job, io));
      break;
    case 'sensitivity':
      void serve<'sensitivity'>(message.id, (io) => runSensitivity(message.job, io));
      break;
  }
});

// The client going away (extension host closed, CLI killed) ends the worker too.
process.on('disconnect', () => process.exit(0));
// Ctrl-C in a terminal reaches the whole process group; the client decides
// when the worker stops (it cancels, then kills), so the worker ignores it.
process.on('SIGINT', () => undefined);
