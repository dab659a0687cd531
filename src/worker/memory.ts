// The worker under memory pressure. The client starts it with V8's old-space
// limit and tells it the same budget; onnxruntime's buffers and our batch
// Buffers live outside V8's heap, so the worker also checks its resident size
// after each batch, and onnxruntime's CPU arena is shrunk after each run (so
// one large batch does not keep its activations). Every way of running out
// (the budget passed, an allocation refused by onnxruntime or V8) becomes one
// 'memory' error naming the batch, and the worker then exits so the next
// request starts on a fresh process with all memory returned.

import { PruneLensError } from '../onnx/errors';

/** The budget in MiB, as the client passes it (the same number as --max-old-space-size). */
export const MEMORY_LIMIT_ENV = 'PRUNE_LENS_MEMORY_LIMIT_MB';

/** The batch the running job is on (1-based), for the message; one job runs at a time. */
let currentBatch: number | undefined;

export function atBatch(batch: number | undefined): void {
  currentBatch = batch;
}

export function outOfMemory(batch = currentBatch): PruneLensError {
  return new PruneLensError('memory', `ran out of memory${batch !== undefined ? ` at batch ${batch}` : ''}; try a smaller batch size`);
}

function budgetBytes(): number | undefined {
  const mb = Number(process.env[MEMORY_LIMIT_ENV]);
  return Number.isFinite(mb) && mb > 0 ? mb * 2 ** 20 : undefined;
}

/** After a batch: throws the 'memory' error when the process has grown past its budget. */
export function checkMemory(): void {
  const budget = budgetBytes();
  if (budget !== undefined && process.memoryUsage().rss > budget) throw outOfMemory();
}

/** An allocation failure from onnxruntime (native) or V8 (a Buffer or typed array it could not get). */
export function isAllocationFailure(e: unknown): boolean {
  if (e instanceof PruneLensError) return e.code === 'memory';
  const message = e instanceof Error ? e.message : String(e);
  return /Failed to allocate memory|bad_alloc|Array buffer allocation failed|out of memory/i.test(message);
}
