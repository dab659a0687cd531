// External tensor data (data_location = EXTERNAL): the bytes live in a side
// file next to the model. They are read only when a tensor's values are asked
// for, and only from files inside the model's folder, so a crafted model
// cannot make the tool read /etc/passwd or ../../secrets.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { PruneLensError } from './errors';
import type { GraphProto, ModelProto, TensorProto } from './schema';
import { elementCount, elementSize, tensorDims, type ReadScratch } from './tensor';

export interface ExternalRef {
  location: string;
  offset: number;
  length: number;
}

export function externalRef(t: TensorProto): ExternalRef {
  const entries = new Map(t.external_data.map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (!location) throw new PruneLensError('external-data', 'external data has no location', { tensor: t.name });
  const offset = parseCount(entries.get('offset') ?? '0', 'offset', t);
  const expected = elementCount(tensorDims(t)) * elementSize(t.data_type);
  const length = entries.has('length') ? parseCount(entries.get('length')!, 'length', t) : expected;
  return { location, offset, length };
}

function parseCount(s: string, what: string, t: TensorProto): number {
  const v = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(v)) {
    throw new PruneLensError('external-data', `external data ${what} "${s}" is not a byte count`, { tensor: t.name });
  }
  return v;
}

/** Resolves a location against the model's folder, refusing anything that leaves it. */
export function resolveExternalPath(modelDir: string, location: string, tensor?: string): string {
  if (path.isAbsolute(location) || /^[a-zA-Z]:/.test(location) || location.includes('\0')) {
    throw new PruneLensError('external-data', `external data location "${location}" is absolute; only files inside the model's folder are read`, { tensor });
  }
  const dir = path.resolve(modelDir);
  const full = path.resolve(dir, location);
  if (!full.startsWith(dir + path.sep)) {
    throw new PruneLensError('external-data', `external data location "${location}" leaves the model's folder`, { tensor });
  }
  // A symlink inside the folder could still point outside it.
  let real: string;
  try {
    real = fs.realpathSync(full);
  } catch {
    throw new PruneLensError('external-data', `external data file "${location}" was not found next to the model`, { tensor });
  }
  const realDir = fs.realpathSync(dir);
  if (!real.startsWith(realDir + path.sep)) {
    throw new PruneLensError('external-data', `external data location "${location}" links outside the model's folder`, { tensor });
  }
  return real;
}

/**
 * Reads external tensors when asked, each time: nothing is kept, so memory does
 * not grow with the model (a page-cached read of a weight costs little).
 */
export class ExternalData {
  constructor(private readonly modelDir: string) {}

  read = (t: TensorProto, scratch?: ReadScratch): Uint8Array => {
    const ref = externalRef(t);
    const file = resolveExternalPath(this.modelDir, ref.location, t.name);
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (ref.offset + ref.length > size) {
        throw new PruneLensError('external-data',
          `external data needs bytes ${ref.offset}..${ref.offset + ref.length} of "${ref.location}", which has ${size}`,
          { tensor: t.name });
      }
      if (scratch && scratch.buffer.length < ref.length) scratch.buffer = new Uint8Array(ref.length);
      const out = scratch ? scratch.buffer.subarray(0, ref.length) : new Uint8Array(ref.length);
      let done = 0;
      while (done < ref.length) {
        const n = fs.readSync(fd, out, done, ref.length - done, ref.offset + done);
        if (n === 0) break;
        done += n;
      }
      return out;
    } finally {
      fs.closeSync(fd);
    }
  };
}

/** Every tensor a model holds: initializers, sparse initializers and constant attributes, in subgraphs too. */
export function modelTensors(proto: ModelProto): TensorProto[] {
  const out: TensorProto[] = [];
  const visit = (g: GraphProto | undefined) => {
    if (!g) return;
    out.push(...g.initializer);
    for (const s of g.sparse_initializer ?? []) out.push(...[s.values, s.indices].filter((t): t is TensorProto => !!t));
    for (const n of g.node) {
      for (const a of n.attribute) {
        if (a.t) out.push(a.t);
        out.push(...(a.tensors ?? []));
        visit(a.g);
        for (const sub of a.graphs ?? []) visit(sub);
      }
    }
  };
  visit(proto.graph);
  return out;
}

/** How a model keeps its external data: not at all, in one file, or one file per tensor. */
export interface ExternalLayout {
  layout: 'none' | 'single' | 'per-tensor';
  /** The data files, as the model names them (relative to its folder). */
  files: string[];
}

export function externalLayout(proto: ModelProto): ExternalLayout {
  const perFile = new Map<string, number>();
  for (const t of modelTensors(proto)) {
    if (t.data_location !== 1) continue;
    const location = t.external_data.find((e) => e.key === 'location')?.value;
    if (location) perFile.set(location, (perFile.get(location) ?? 0) + 1);
  }
  const files = [...perFile.keys()];
  if (!files.length) return { layout: 'none', files };
  // Several files with one tensor each is onnx's all_tensors_to_one_file=False; anything else gets one file.
  const perTensor = files.length > 1 && [...perFile.values()].every((n) => n === 1);
  return { layout: perTensor ? 'per-tensor' : 'single', files };
}
