// An ONNX model in memory: the decoded ModelProto over the file's bytes, plus
// the file it came from. Loading, parsing, serialising and atomic saving.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeMessage, encodeMessage } from './codec';
import { PruneLensError, withFile } from './errors';
import { deferredSlice } from './deferred';
import { withSpilledInline } from './spill';
import { ExternalData, externalLayout, modelTensors, type ExternalLayout } from './external';
import { MAX_PROTOBUF_BYTES } from './save';
import type { GraphProto, ModelProto } from './schema';
import { ExternalReader, tensorBytes, toNumber } from './tensor';

export { saveModel, writeAtomic, stageModel, type SaveOptions, type SavedFiles } from './save';

export class OnnxModel {
  /** Reads external tensor data; undefined for models parsed from bytes alone. */
  readonly external?: ExternalReader;
  /** How the file kept its external data when it was read: its output keeps it the same way. */
  readonly externalLayout: ExternalLayout;

  constructor(
    readonly proto: ModelProto,
    /** The bytes the model was decoded from; tensors are views into them. */
    readonly bytes: Uint8Array,
    /** The file it came from, for messages and external data. */
    readonly file?: string,
  ) {
    if (file) this.external = new ExternalData(path.dirname(file)).read;
    this.externalLayout = externalLayout(proto);
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

  /** Bytes on disk: the .onnx and the external data files it names (those that exist). */
  get fileBytes(): number {
    let n = this.bytes.length;
    if (!this.file) return n;
    for (const location of this.externalLayout.files) {
      try {
        n += fs.statSync(path.resolve(path.dirname(this.file), location)).size;
      } catch {
        // Missing: reported when a tensor in it is read.
      }
    }
    return n;
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
    const { size } = fs.statSync(file);
    if (size > MAX_PROTOBUF_BYTES) throw tooLargeToRead(size);
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw withFile(e, file);
  }
  return parseModel(bytes, file);
}

const CHUNK = 4 * 1024 * 1024;

function tooLargeToRead(size: number): PruneLensError {
  return new PruneLensError('limit', `the file is ${size} bytes; ONNX files are under 2 GiB (larger models keep weights in external data files)`);
}

/** Reads a whole file into one buffer, in chunks, so progress, cancellation and overlapped work are possible. */
export async function readFileChunked(file: string, opts: LoadOptions = {}): Promise<Uint8Array> {
  let fh: fs.promises.FileHandle | undefined;
  let pending: Promise<{ bytesRead: number }> | undefined;
  try {
    fh = await fs.promises.open(file, 'r');
    const { size } = await fh.stat();
    if (size > MAX_PROTOBUF_BYTES) throw tooLargeToRead(size);
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

/**
 * The model's bytes as chunks; unchanged messages are the original bytes, by reference.
 * Cut tensors not made yet (deferred.ts) are made first, spilled ones read: these bytes hold every tensor's data.
 */
export function serializeModel(model: OnnxModel | ModelProto): Uint8Array[] {
  const proto = model instanceof OnnxModel ? model.proto : model;
  const tensors = modelTensors(proto);
  for (const t of tensors) if (deferredSlice(t)) tensorBytes(t);
  // Spilled weights (spill.ts) are in these bytes only while they are encoded.
  return withSpilledInline(tensors, () => encodeMessage('ModelProto', proto));
}
