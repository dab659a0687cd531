// Where a tensor's data is held, as facts about the proto alone. Kept apart from
// tensor.ts so the stand-ins for data held elsewhere (deferred.ts: a slice made
// at write time; spill.ts: a temporary file), which tensor.ts reads through,
// can use them without an import cycle.

import type { TensorProto } from './schema';

/** Whether data was put into `t` itself (inline bytes, typed fields, or external data). */
export function hasOwnData(t: TensorProto): boolean {
  return t.raw_data !== undefined || t.data_location === 1 || t.float_data.length > 0 || t.int32_data.length > 0
    || t.int64_data.length > 0 || t.double_data.length > 0 || t.uint64_data.length > 0;
}

/** Removes `t`'s typed fields and external data (raw_data is the caller's to set or delete). */
export function clearTypedData(t: TensorProto): void {
  t.float_data = [];
  t.int32_data = [];
  t.int64_data = [];
  t.double_data = [];
  t.uint64_data = [];
  t.string_data = [];
  t.external_data = [];
  delete t.data_location;
}
