// Progress and cancellation for the worker's jobs (validation, prune plans,
// sensitivity analysis). The pruning core reports phases (steps, layers,
// groups); between them it runs the model on calibration batches, which can
// take minutes on a large model. Wrapping the calibration source makes every
// batch a point where a cancel is honoured and a sign of life is sent, so the
// client's idle watchdog only fires when the worker has really stopped moving.

import { PruneLensError } from '../onnx/errors';
import type { ActivationRun, ActivationSource, SegmentRun } from '../pruning/recovery/source';
import { atBatch, checkMemory } from './memory';
import type { WorkProgress, WorkStage } from './protocol';

/** What a job gets from the worker: a way to report, and the cancel of its request. */
export interface WorkIO {
  progress(event: WorkProgress): void;
  signal: AbortSignal;
}

/** Batch notes closer together than this are not sent: the client needs signs of life, not a flood. */
export const BATCH_NOTE_MS = 250;

export class JobProgress {
  private stage: WorkStage = 'load';
  private message = '';
  private fraction = 0;
  private lastSent = 0;

  /** `cancelled` is the message of the error thrown when the job's request is cancelled. */
  constructor(private readonly io: WorkIO, private readonly cancelled: string) {}

  get signal(): AbortSignal {
    return this.io.signal;
  }

  /** A new phase, always sent, with what the client may need to know about it. The fraction is kept from going back. */
  phase(stage: WorkStage, message: string, fraction: number, detail: Omit<WorkProgress, 'stage' | 'message' | 'fraction'> = {}): void {
    this.stage = stage;
    this.message = message;
    this.fraction = Math.min(1, Math.max(this.fraction, fraction));
    this.send(message, detail);
  }

  /** A calibration batch is about to run: throws if cancelled, and now and then says which batch. */
  batch(index: number, batches: number, always = false): void {
    this.throwIfCancelled();
    atBatch(index + 1);
    // The first batch always says so: if it is too large, the client must know which one the worker died on.
    if (always || index === 0 || Date.now() - this.lastSent >= BATCH_NOTE_MS) this.send(`${this.message} (batch ${index + 1} of ${batches})`, { batch: index + 1 });
  }

  throwIfCancelled(): void {
    if (this.io.signal.aborted) throw new PruneLensError('cancelled', this.cancelled);
  }

  private send(message: string, detail: Omit<WorkProgress, 'stage' | 'message' | 'fraction'> = {}): void {
    this.lastSent = Date.now();
    this.io.progress({ stage: this.stage, message, fraction: this.fraction, ...detail });
  }
}

/** `source`, with a cancel check and a progress note before each batch any of its runs computes. */
export function watchSource(source: ActivationSource, progress: JobProgress): ActivationSource {
  return {
    batches: source.batches,
    samples: source.samples,
    description: source.description,
    gram: source.gram,
    products: source.products,
    labels: (batch) => source.labels(batch),
    async open(model, values): Promise<ActivationRun> {
      progress.throwIfCancelled();
      const run = await source.open(model, values);
      return {
        run: async (batch) => {
          progress.batch(batch, source.batches);
          const out = await run.run(batch);
          checkMemory();
          return out;
        },
        release: () => run.release(),
      };
    },
    openSegment: source.openSegment && (async (model, from, values, hold): Promise<SegmentRun> => {
      progress.throwIfCancelled();
      const run = await source.openSegment!(model, from, values, hold);
      return {
        run: (batch, held) => {
          progress.batch(batch, source.batches);
          return run.run(batch, held);
        },
        release: () => run.release(),
      };
    }),
  };
}
