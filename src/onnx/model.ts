// An ONNX model in memory: the decoded ModelProto over the file's bytes, plus
// the file it came from. Loading, parsing, serialising and atomic saving.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeMessage, encodeMessage } from './codec';
import { PruneLensError, withFile } from './errors';
import { ExternalData } from './external';
import type { GraphProto, ModelProto, TensorProto } from './schema';
import { ExternalReader, isExternal, toNumber } from './tensor';

export class OnnxModel {
  /** Reads external tensor data; undefined for models parsed from bytes alone. */
  readonly external?: ExternalReader;

  constructor(
    readonly proto: ModelProto,
    /** The bytes the model was decoded from; tensors are views into them. */
    readonly bytes: Uint8Array,
    /** The file it came from, for messages and external data. */
    readonly file?: string,
  ) {
    if (file) this.external = new ExternalData(path.dirname(file)).read;
  }

  get graph(): GraphProto {
    return this.proto.graph!;
  }

  /** The opset version in force for a domain ('' and 'ai.onnx' are the default domain). */
  opset(domain = ''): number {
    for (const o of this.proto.opset_import) {
      const d = o.domain ?? '';
      if (d === domain || (domain === '' && d === 'ai.onnx')) return toNumber(o.version ?? 0);
    }
    return 0;
  }

  get displayName(): string {
    return this.file ? path.basename(this.file) : 'model';
  }
}

/** Decodes bytes as a ModelProto and checks that they are an ONNX model. */
export function parseModel(bytes: Uint8Array, file?: string): OnnxModel {
  try {
    if (bytes.length === 0) throw new PruneLensError('not-onnx', 'the file is empty');
    let proto: ModelProto;
    try {
      proto = decodeMessage<ModelProto>('ModelProto', bytes);
    } catch (e) {
      // Say what the user most needs to know first: this is not (or no longer) a model.
      if (e instanceof PruneLensError && (e.code === 'malformed' || e.code === 'truncated')) {
        const what = e.code === 'truncated' ? 'a truncated or damaged ONNX file' : 'not an ONNX model, or a damaged one';
        throw new PruneLensError(e.code, `${what}: ${e.detail}`, e.location);
      }
      throw e;
    }
    const ir = proto.ir_version === undefined ? undefined : toNumber(proto.ir_version);
    if (ir === undefined || ir < 1 || ir > 1000) {
      throw new PruneLensError('not-onnx', `not an ONNX model: ${ir === undefined ? 'no ir_version' : `ir_version ${ir} is not a known version`}`, { field: 'ir_version' });
    }
    if (!proto.graph) throw new PruneLensError('not-onnx', 'not an ONNX model: it has no graph', { field: 'graph' });
    return new OnnxModel(proto, bytes, file);
  } catch (e) {
    throw file ? withFile(e, file) : e;
  }
}

export interface LoadOptions {
  /** Called with bytes read so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Called after each chunk with the whole buffer and how much of it is filled,
   * while the next chunk is already being read: work done here overlaps the disk.
   */
  onData?: (buf: Uint8Array, available: number) => void;
  signal?: AbortSignal;
}

/** Reads a model file and parses it. Errors name the file. */
export async function loadModel(file: string, opts: LoadOptions = {}): Promise<OnnxModel> {
  const bytes = await readFileChunked(file, opts);
  return parseModel(bytes, file);
}

export function loadModelSync(file: string): OnnxModel {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw withFile(e, file);
  }
  return parseModel(bytes, file);
}

const CHUNK = 4 * 1024 * 1024;

/** Reads a whole file into one buffer, in chunks, so progress, cancellation and overlapped work are possible. */
export async function readFileChunked(file: string, opts: LoadOptions = {}): Promise<Uint8Array> {
  let fh: fs.promises.FileHandle | undefined;
  let pending: Promise<{ bytesRead: number }> | undefined;
  try {
    fh = await fs.promises.open(file, 'r');
    const { size } = await fh.stat();
    if (size > 2 ** 32) throw new PruneLensError('limit', `the file is ${size} bytes; ONNX files are at most 2 GiB (larger models keep weights in external data files)`);
    const buf = Buffer.allocUnsafe(size);
    const handle = fh;
    const readAt = (at: number) => handle.read(buf, at, Math.min(CHUNK, size - at), at);
    let done = 0;
    pending = size > 0 ? readAt(0) : undefined;
    while (pending) {
      const { bytesRead } = await pending;
      pending = undefined;
      if (bytesRead === 0) throw new PruneLensError('io', `the file shrank while it was read (${done} of ${size} bytes)`);
      done += bytesRead;
      if (opts.signal?.aborted) throw new PruneLensError('cancelled', 'cancelled');
      // Start the next read before handing this chunk out, so the two overlap.
      if (done < size) pending = readAt(done);
      opts.onProgress?.(done, size);
      opts.onData?.(buf, done);
    }
    return buf;
  } catch (e) {
    await pending?.catch(() => undefined);
    throw withFile(e, file);
  } finally {
    await fh?.close();
  }
}

/** The model's bytes as chunks; unchanged messages are the original bytes, by reference. */
export function serializeModel(model: OnnxModel | ModelProto): Uint8Array[] {
  const proto = model instanceof OnnxModel ? model.proto : model;
  return encodeMessage('ModelProto', proto);
}

export interface SaveOptions {
  /** Allow replacing an existing file at the output path (never the source model). */
  overwrite?: boolean;
}

/**
 * Writes the model to a new file atomically: a temporary file in the same
 * folder, flushed, then renamed. The source model is never overwritten, and a
 * failed write leaves nothing behind.
 */
export async function saveModel(model: OnnxModel, outPath: string, opts: SaveOptions = {}): Promise<void> {
  const out = path.resolve(outPath);
  if (model.file && samePath(model.file, out)) {
    throw new PruneLensError('io', 'refusing to overwrite the original model; choose another output file', {}, out);
  }
  if (!opts.overwrite && fs.existsSync(out)) {
    throw new PruneLensError('io', 'the output file already exists', {}, out);
  }
  inlineExternalIfMoved(model, out);
  const chunks = serializeModel(model);
  await writeAtomic(out, chunks);
}

/** Writes chunks to `file` via a temporary sibling and a rename. */
export async function writeAtomic(file: string, chunks: Uint8Array[]): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(tmp, 'wx');
    // writev takes at most IOV_MAX buffers at a time.
    for (let i = 0; i < chunks.length; i += 1024) await fh.writev(chunks.slice(i, i + 1024));
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw withFile(e, file);
  }
}

function samePath(a: string, b: string): boolean {
  const ra = realOrResolved(a);
  const rb = realOrResolved(b);
  return ra === rb;
}

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/**
 * External data locations are relative to the model's folder. When the output
 * goes to another folder, the tensors are written inline so the new model
 * does not point at files that are not there.
 */
function inlineExternalIfMoved(model: OnnxModel, out: string): void {
  if (!model.file || path.dirname(path.resolve(model.file)) === path.dirname(out)) return;
  const visit = (tensors: TensorProto[]) => {
    for (const t of tensors) {
      if (!isExternal(t)) continue;
      t.raw_data = model.external!(t);
      t.external_data = [];
      delete t.data_location;
    }
  };
  visit(model.graph.initializer);
  for (const n of model.graph.node) for (const a of n.attribute) if (a.t) visit([a.t]);
}
