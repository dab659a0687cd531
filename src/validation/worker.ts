// The validation worker: a child process forked by the client. It owns the
// onnxruntime sessions, so a native crash or a hang takes down only this
// process. It runs one job at a time and answers over the IPC channel.

import { PruneLensError } from '../onnx/errors';
import { runJob } from './job';
import { CUDA_PATH_ENV, FromWorker, SerializedError, ToWorker } from './protocol';
import { loadOrt } from './ortRuntime';
import type { OrtRuntime } from './providers';

if (!process.send) {
  console.error('The Prune Lens validation worker must be started by the validation client (child_process.fork).');
  process.exit(2);
}

const send = (message: FromWorker) => process.send!(message);
const running = new Set<number>();
const cancelled = new Set<number>();
let ort: OrtRuntime | undefined;

function serialize(e: unknown): SerializedError {
  if (e instanceof PruneLensError) return { code: e.code, detail: e.detail, file: e.file, location: e.location };
  return { code: 'internal', detail: e instanceof Error ? e.message : String(e) };
}

async function validate(id: number, job: Extract<ToWorker, { type: 'validate' }>['job']): Promise<void> {
  running.add(id);
  try {
    ort ??= loadOrt(process.env[CUDA_PATH_ENV] || undefined);
    const result = await runJob(ort, job, {
      progress: (event) => send({ type: 'progress', id, event }),
      isCancelled: () => cancelled.has(id),
    });
    send({ type: 'result', id, result });
  } catch (e) {
    send({ type: 'error', id, error: serialize(e) });
  } finally {
    running.delete(id);
    cancelled.delete(id);
  }
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'cancel') { if (running.has(message.id)) cancelled.add(message.id); }
  else if (message.type === 'validate') void validate(message.id, message.job);
});

// The client going away (extension host closed, CLI killed) ends the worker too.
process.on('disconnect', () => process.exit(0));
// Ctrl-C in a terminal reaches the whole process group; the client decides
// when the worker stops (it cancels, then kills), so the worker ignores it.
process.on('SIGINT', () => undefined);
