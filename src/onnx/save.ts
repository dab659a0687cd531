// Writing a model so that it loads: the .onnx plus, where needed, its external
// data, as one set of files that appears complete or not at all.
//
// - A model read with external data is written with external data, laid out
//   the way the source had it (one `<out>.data` file, or one file per tensor).
//   So is any model whose protobuf would pass `externalThreshold` (1.8 GB).
// - Protobuf cannot hold a message of 2 GiB or more; such a model is refused
//   before anything is written.
// - Unchanged external tensors are copied from the source's data file in
//   chunks, never held in memory; the source's files are never written.
// - Tensors cut from external data and not made yet (deferred.ts) are made
//   from the source's data file on worker threads (slicePool.ts), each chunk
//   written at its place in the data file while this thread copies the rest.
// - Pruned weights moved to a temporary file (spill.ts) are streamed from it.
// - Every file goes to a temporary sibling first. Only when all of them are
//   complete (and flushed to disk, where they replace a file) are they moved
//   into place (commitFiles): without
//   overwrite by a hard link, which fails if the name exists, so the check and
//   the creation are one step; with overwrite, each old file is kept under a
//   backup name until every new file is in place, and put back on a failure.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeMessage } from './codec';
import { PruneLensError, withFile } from './errors';
import { deferredSlice } from './deferred';
import { readSpilled, spilledLength } from './spill';
import { externalRef, modelTensors, resolveExternalPath, type ExternalLayout } from './external';
import type { ModelProto, TensorProto } from './schema';
import { sliceJobs } from './slice';
import { runSlices, type SliceWork } from './slicePool';
import { isExternal, tensorBytes } from './tensor';

/** Protobuf's limit on a serialized message: sizes are signed 32-bit (2 GiB − 1 byte). */
export const MAX_PROTOBUF_BYTES = 2 ** 31 - 1;
/** Models whose protobuf would be larger than this go to external data (the `externalThreshold` default). */
export const DEFAULT_EXTERNAL_THRESHOLD = 1.8e9;
/** Smaller tensors stay inline in an externalised model (as in onnx's convert_model_to_external_data). */
const MIN_EXTERNAL_BYTES = 1024;
/** External tensors start at multiples of this, so a reader can map them page-aligned. */
const ALIGN = 4096;
/** Streamed copies and large writes go in pieces of this size, checking for cancel between them. */
const PIECE = 8 * 1024 * 1024;

/** What a model to be written needs from its owner (OnnxModel satisfies it). */
export interface SavableModel {
  readonly proto: ModelProto;
  readonly file?: string;
  /** How the source kept its external data, and in which files. */
  readonly externalLayout?: ExternalLayout;
}

export interface SaveOptions {
  /** Allow replacing an existing output (never the source model or its data files). */
  overwrite?: boolean;
  /** Protobuf size in bytes above which tensors go to external data (default 1.8 GB). */
  externalThreshold?: number;
  signal?: AbortSignal;
  /** Bytes written so far, of the total. */
  onProgress?: (done: number, total: number) => void;
  /** Worker threads that make cut tensors (default: one per core, and none for small models); 0: none. */
  threads?: number;
}

export interface SavedFiles {
  model: string;
  /** External data files written beside it, if any. */
  data: string[];
  /** Bytes of all files together. */
  bytes: number;
}

/** Writes the model (and its data files) atomically. The source and its data are never overwritten. */
export async function saveModel(model: SavableModel, outPath: string, opts: SaveOptions = {}): Promise<SavedFiles> {
  const staged = await stageModel(model, outPath, opts);
  try {
    await staged.commit(opts.overwrite === true);
  } finally {
    await staged.discard();
  }
  return staged.result;
}

/** One file being written: where it is now, and where it goes on commit. */
interface Pending {
  tmp: string;
  final: string;
}

/**
 * Files written to temporary names, waiting to be moved into place together.
 * `discard()` after `commit()` (or instead of it) removes whatever is left.
 */
export class StagedFiles {
  private readonly files: Pending[] = [];
  private committed = false;

  constructor(readonly result: SavedFiles, private readonly protect: Set<string>, private readonly overwrite = false) {}

  /**
   * Whether `final` will replace a file that exists. Only then is the new file flushed to the disk
   * before the rename: a crash must not leave an unwritten file where a good one was. A new output
   * is not flushed (writing gigabytes at disk speed would double the time of a prune); a crash can
   * at worst leave it incomplete, with nothing lost.
   */
  replacing(final: string): boolean {
    return this.overwrite && fs.existsSync(final);
  }

  /** A new temporary file for `final`, registered before it is created so discard() always finds it. */
  tmpFor(final: string): string {
    const abs = path.resolve(final);
    if (this.protect.has(realOrResolved(abs))) {
      throw new PruneLensError('io', 'refusing to write over the source model or one of its external data files; choose another output file', {}, abs);
    }
    const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.${Date.now()}.${this.files.length}.tmp`);
    this.files.push({ tmp, final: abs });
    return tmp;
  }

  /** Writes a small file (a report) into the set. */
  async add(final: string, chunks: Uint8Array[], signal?: AbortSignal): Promise<number> {
    const tmp = this.tmpFor(final);
    const w = await TmpWriter.open(tmp, signal);
    try {
      for (const c of chunks) await w.write(c);
      await w.finish(this.replacing(final));
    } catch (e) {
      await w.abandon();
      throw withFile(e, final);
    }
    return w.written;
  }

  /** Moves every file into place, or none: see commitFiles. */
  async commit(overwrite: boolean): Promise<void> {
    await commitFiles(this.files, overwrite);
    this.committed = true;
  }

  /** Removes the temporary files that were not committed. */
  async discard(): Promise<void> {
    if (this.committed) return;
    await Promise.all(this.files.map((f) => fs.promises.rm(f.tmp, { force: true }).catch(() => undefined)));
  }
}

/**
 * Writes the model's files to temporary names next to `outPath` and returns
 * them for commit. Refuses before writing anything when the output could not
 * be valid, or would replace the source or one of its data files.
 */
export async function stageModel(model: SavableModel, outPath: string, opts: SaveOptions = {}): Promise<StagedFiles> {
  const out = path.resolve(outPath);
  const protect = sourceFiles(model);
  if (model.file && samePath(model.file, out)) {
    throw new PruneLensError('io', 'refusing to overwrite the original model; choose another output file', {}, out);
  }
  const plan = planLayout(model, out, opts.externalThreshold ?? DEFAULT_EXTERNAL_THRESHOLD);
  const staged = new StagedFiles({ model: out, data: [...new Set(plan.entries.map((e) => e.file))], bytes: 0 }, protect, opts.overwrite === true);
  // Checked again, atomically, on commit; here so that a clash is reported before gigabytes are written.
  for (const file of [out, ...staged.result.data]) {
    if (protect.has(realOrResolved(file))) {
      throw new PruneLensError('io', 'refusing to write over one of the source model\'s external data files; choose another output file', {}, file);
    }
    if (!opts.overwrite && fs.existsSync(file)) throw new PruneLensError('io', 'the output file already exists', {}, file);
  }
  try {
    const total = plan.entries.reduce((n, e) => n + e.length, 0) + plan.protoBytes;
    let done = 0;
    const progress = (n: number) => {
      done += n;
      opts.onProgress?.(done, total);
    };
    // Data files first (the .onnx names them), each entry at its planned offset.
    for (const file of staged.result.data) {
      const entries = plan.entries.filter((e) => e.file === file);
      staged.result.bytes += await writeDataFile(staged, model, file, entries, opts, progress);
    }
    staged.result.bytes += await staged.add(out, plan.chunks, opts.signal);
    progress(plan.protoBytes);
    return staged;
  } catch (e) {
    await staged.discard();
    throw e;
  }
}

/** One tensor's place in an external data file. */
interface DataEntry {
  tensor: TensorProto;
  file: string;
  location: string;
  offset: number;
  length: number;
}

interface Layout {
  entries: DataEntry[];
  /** The encoded .onnx, already pointing at the entries. */
  chunks: Uint8Array[];
  protoBytes: number;
}

/** Decides which tensors go to which data file, and encodes the .onnx to match. */
function planLayout(model: SavableModel, out: string, threshold: number): Layout {
  const tensors = modelTensors(model.proto);
  const inline = encodeMessage('ModelProto', model.proto);
  const inlineBytes = byteLength(inline);
  const sourceLayout = model.externalLayout?.layout ?? 'none';
  // A cut of external data not made yet, or pruned weights spilled from it, are external data still: they go to a data file.
  const anyExternal = tensors.some((t) => isExternal(t) || deferredSlice(t) || spilledLength(t) !== undefined);
  if (sourceLayout === 'none' && !anyExternal && inlineBytes <= threshold) {
    if (inlineBytes > MAX_PROTOBUF_BYTES) throw tooLarge(inlineBytes, out);
    return { entries: [], chunks: inline, protoBytes: inlineBytes };
  }
  const perTensor = sourceLayout === 'per-tensor';
  const base = path.basename(out);
  const entries: DataEntry[] = [];
  const used = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    const length = dataLength(t);
    if (length === undefined || (length < MIN_EXTERNAL_BYTES && !isExternal(t) && !deferredSlice(t) && spilledLength(t) === undefined)) continue;
    if (perTensor) {
      const location = uniqueName(`${base}.${safeName(t.name ?? 'tensor')}.data`, used);
      entries.push({ tensor: t, file: path.join(path.dirname(out), location), location, offset: 0, length });
    } else {
      offset = Math.ceil(offset / ALIGN) * ALIGN;
      entries.push({ tensor: t, file: `${out}.data`, location: `${base}.data`, offset, length });
      offset += length;
    }
  }
  const chunks = encodePointingAt(model.proto, entries);
  const protoBytes = byteLength(chunks);
  if (protoBytes > MAX_PROTOBUF_BYTES) throw tooLarge(protoBytes, out);
  return { entries, chunks, protoBytes };
}

function tooLarge(bytes: number, out: string): PruneLensError {
  return new PruneLensError('limit',
    `the model would be a ${(bytes / 2 ** 30).toFixed(2)} GiB protobuf; ONNX files must stay under 2 GiB. ` +
    'Lower the external data threshold so that its weights go to an external data file', {}, out);
}

/** Bytes of a tensor's data, or undefined for tensors that hold none in a byte form (strings). */
function dataLength(t: TensorProto): number | undefined {
  if (isExternal(t)) return externalRef(t).length;
  if (t.raw_data) return t.raw_data.length;
  const d = deferredSlice(t);
  if (d) return d.length;
  const spilled = spilledLength(t);
  if (spilled !== undefined) return spilled;
  if (t.string_data.length) return undefined;
  // Typed fields: packed on write; small ones stay inline anyway.
  const count = t.float_data.length + t.int32_data.length + t.int64_data.length + t.double_data.length + t.uint64_data.length;
  return count ? tensorBytes(t).length : undefined;
}

/** Encodes the model with the entries' tensors pointing at their data files; the tensors are restored after. */
function encodePointingAt(proto: ModelProto, entries: DataEntry[]): Uint8Array[] {
  const saved = entries.map((e) => {
    const t = e.tensor;
    const before = {
      raw_data: t.raw_data, data_location: t.data_location, external_data: t.external_data,
      float_data: t.float_data, int32_data: t.int32_data, int64_data: t.int64_data, double_data: t.double_data, uint64_data: t.uint64_data,
    };
    delete t.raw_data;
    t.float_data = [];
    t.int32_data = [];
    t.int64_data = [];
    t.double_data = [];
    t.uint64_data = [];
    t.data_location = 1;
    t.external_data = [
      { key: 'location', value: e.location },
      { key: 'offset', value: String(e.offset) },
      { key: 'length', value: String(e.length) },
    ];
    return { t, before };
  });
  try {
    return encodeMessage('ModelProto', proto);
  } finally {
    for (const { t, before } of saved) {
      Object.assign(t, before);
      if (before.raw_data === undefined) delete t.raw_data;
      if (before.data_location === undefined) delete t.data_location;
    }
  }
}

/**
 * Writes one data file, each entry's bytes at its offset: cut tensors not made
 * yet are made on worker threads while this thread streams the unchanged
 * external tensors from the source and writes those in memory.
 */
async function writeDataFile(staged: StagedFiles, model: SavableModel, file: string, entries: DataEntry[],
  opts: SaveOptions, progress: (n: number) => void): Promise<number> {
  const w = await TmpWriter.open(staged.tmpFor(file), opts.signal);
  const sync = staged.replacing(file);
  const sources = new Map<string, fs.promises.FileHandle>();
  const work: SliceWork[] = [];
  const rest: DataEntry[] = [];
  for (const e of entries) {
    const d = deferredSlice(e.tensor);
    if (d) for (const job of sliceJobs(d.slice)) work.push({ job, position: e.offset + job.at });
    else rest.push(e);
  }
  // The slices stop with this thread's part when it fails, and always before the file is closed.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort);
  const sliced = runSlices(work, {
    fd: w.fd, write: (bytes, position) => w.writeAt(bytes, position), signal: stop.signal, threads: opts.threads, onProgress: progress,
  });
  const slicesDone = sliced.then(() => undefined, () => undefined); // awaited below; a failure is not unhandled meanwhile
  try {
    try {
      for (const e of rest) {
        if (isExternal(e.tensor)) {
          const src = await sourceHandle(model, e.tensor, sources);
          await w.copyFrom(src.handle, src.offset, e.length, src.size, e.offset, e.tensor.name, progress);
        } else if (spilledLength(e.tensor) !== undefined) {
          // Pruned weights in their temporary file (spill.ts): streamed a piece at a time, never whole.
          for (let at = 0; at < e.length; at += PIECE) {
            const piece = readSpilled(e.tensor, at, Math.min(PIECE, e.length - at));
            await w.writeAt(piece, e.offset + at);
            progress(piece.length);
          }
        } else {
          const bytes = tensorBytes(e.tensor);
          for (let at = 0; at < bytes.length; at += PIECE) {
            const piece = bytes.subarray(at, Math.min(bytes.length, at + PIECE));
            await w.writeAt(piece, e.offset + at);
            progress(piece.length);
          }
        }
      }
    } catch (e) {
      stop.abort();
      throw e;
    } finally {
      await slicesDone;
    }
    await sliced;
    // The file ends where the last entry does, even an empty one.
    await w.extendTo(entries.reduce((n, e) => Math.max(n, e.offset + e.length), 0));
    await w.finish(sync);
    return w.written;
  } catch (e) {
    await w.abandon();
    throw withFile(e, file);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await Promise.all([...sources.values()].map((h) => h.close().catch(() => undefined)));
  }
}

async function sourceHandle(model: SavableModel, t: TensorProto, open: Map<string, fs.promises.FileHandle>) {
  if (!model.file) throw new PruneLensError('external-data', 'tensor data is in an external file, but the model has no folder to read it from', { tensor: t.name });
  const ref = externalRef(t);
  const file = resolveExternalPath(path.dirname(model.file), ref.location, t.name);
  let handle = open.get(file);
  if (!handle) {
    handle = await fs.promises.open(file, 'r');
    open.set(file, handle);
  }
  const { size } = await handle.stat();
  return { handle, offset: ref.offset, size, location: ref.location };
}

/** A temporary file, written front to back or at given offsets, flushed on finish. */
class TmpWriter {
  /** The file's size so far: the end of the furthest write. */
  written = 0;

  private constructor(private readonly file: string, private readonly fh: fs.promises.FileHandle, private readonly signal?: AbortSignal) {}

  static async open(file: string, signal?: AbortSignal): Promise<TmpWriter> {
    checkCancel(signal);
    return new TmpWriter(file, await fs.promises.open(file, 'wx'), signal);
  }

  /** The descriptor, for worker threads that write into the file (they share the process's descriptors). */
  get fd(): number {
    return this.fh.fd;
  }

  /** Appends. */
  async write(bytes: Uint8Array): Promise<void> {
    await this.writeAt(bytes, this.written);
  }

  async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    checkCancel(this.signal);
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await saveIO.write(this.file, this.fh, bytes, done, bytes.length - done, position + done);
      done += bytesWritten;
    }
    this.written = Math.max(this.written, position + bytes.length);
  }

  /** Grows the file with zeros to `size` bytes, if it is shorter. */
  async extendTo(size: number): Promise<void> {
    const { size: now } = await this.fh.stat();
    if (now < size) await this.fh.truncate(size);
    this.written = Math.max(now, size);
  }

  /** Copies `length` bytes from `src` at `offset` to `position`, reading the next piece while this one is written. */
  async copyFrom(src: fs.promises.FileHandle, offset: number, length: number, srcSize: number, position: number,
    tensor: string | undefined, progress: (n: number) => void): Promise<void> {
    if (offset + length > srcSize) {
      throw new PruneLensError('external-data', `external data needs bytes ${offset}..${offset + length} of a file that has ${srcSize}`, { tensor });
    }
    const bufs = [Buffer.allocUnsafe(Math.min(PIECE, length)), Buffer.allocUnsafe(Math.min(PIECE, length))];
    const readPiece = async (at: number, buf: Buffer) => {
      const n = Math.min(buf.length, length - at);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await src.read(buf, got, n - got, offset + at + got);
        if (bytesRead === 0) throw new PruneLensError('external-data', 'the external data file shrank while it was copied', { tensor });
        got += bytesRead;
      }
      return buf.subarray(0, n);
    };
    let at = 0;
    let next = length > 0 ? readPiece(0, bufs[0]) : undefined;
    let which = 0;
    try {
      while (next) {
        const piece = await next;
        next = undefined;
        const after = at + piece.length;
        which ^= 1;
        if (after < length) next = readPiece(after, bufs[which]);
        await this.writeAt(piece, position + at);
        progress(piece.length);
        at = after;
      }
    } finally {
      await next?.catch(() => undefined);
    }
  }

  /** Closes the file; with `sync`, first flushes it to the disk. */
  async finish(sync: boolean): Promise<void> {
    if (sync) await this.fh.sync();
    await this.fh.close();
  }

  async abandon(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await fs.promises.rm(this.file, { force: true }).catch(() => undefined);
  }
}

function checkCancel(signal?: AbortSignal): void {
  if (signal?.aborted) throw new PruneLensError('cancelled', 'writing was cancelled');
}

/** The file operations of a save, replaceable by tests that inject failures (a full disk, a failed rename). */
export const saveIO = {
  write: (file: string, fh: fs.promises.FileHandle, bytes: Uint8Array, offset: number, length: number, position: number) =>
    fh.write(bytes, offset, length, position),
  link: (from: string, to: string) => fs.promises.link(from, to),
  rename: (from: string, to: string) => fs.promises.rename(from, to),
};

/**
 * Moves temporary files to their final names as one unit. Without overwrite,
 * each is hard-linked to its name (fails if the name exists: the existence
 * check and the creation are one step). With overwrite, an existing file is
 * first linked to a backup name, then replaced by rename. If any step fails,
 * the files already moved are taken back and the backups restored, so the
 * previous files are intact.
 */
export async function commitFiles(files: readonly Pending[], overwrite: boolean): Promise<void> {
  const done: { final: string; backup?: string }[] = [];
  let current = files[0]?.final ?? '';
  try {
    for (const f of files) {
      current = f.final;
      if (!overwrite) {
        try {
          await saveIO.link(f.tmp, f.final);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') throw new PruneLensError('io', 'the output file already exists', {}, f.final);
          // A file system without hard links: check, then rename (not atomic, but the best there is).
          if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
          if (fs.existsSync(f.final)) throw new PruneLensError('io', 'the output file already exists', {}, f.final);
          await saveIO.rename(f.tmp, f.final);
        }
        done.push({ final: f.final });
      } else {
        let backup: string | undefined;
        if (fs.existsSync(f.final)) {
          backup = `${f.tmp}.old`;
          await saveIO.link(f.final, backup).catch(() => saveIO.rename(f.final, backup!));
        }
        done.push({ final: f.final, backup });
        await saveIO.rename(f.tmp, f.final);
      }
    }
  } catch (e) {
    // Undo in reverse order: put back what was there, remove what was not.
    for (const d of done.reverse()) {
      if (d.backup) {
        await fs.promises.rename(d.backup, d.final).catch(() => undefined);
        // If the final name still was the old file, the backup is a second link to it, and rename() leaves both.
        await fs.promises.rm(d.backup, { force: true }).catch(() => undefined);
      } else await fs.promises.rm(d.final, { force: true }).catch(() => undefined);
    }
    throw withFile(e, current);
  }
  // All in place: the temporary names (links without overwrite) and the backups go.
  await Promise.all([
    ...(overwrite ? [] : files.map((f) => fs.promises.rm(f.tmp, { force: true }).catch(() => undefined))),
    ...done.filter((d) => d.backup).map((d) => fs.promises.rm(d.backup!, { force: true }).catch(() => undefined)),
  ]);
}

/**
 * Writes chunks to `file` via a temporary sibling and a rename (which replaces
 * an existing file). For files of their own: plans, settings output.
 */
export async function writeAtomic(file: string, chunks: Uint8Array[]): Promise<void> {
  const staged = new StagedFiles({ model: file, data: [], bytes: 0 }, new Set(), true);
  try {
    await staged.add(file, chunks);
    await staged.commit(true);
  } finally {
    await staged.discard();
  }
}

/** The source model and its external data files, by real path: never written. */
function sourceFiles(model: SavableModel): Set<string> {
  const out = new Set<string>();
  if (!model.file) return out;
  out.add(realOrResolved(model.file));
  const dir = path.dirname(path.resolve(model.file));
  for (const location of model.externalLayout?.files ?? []) out.add(realOrResolved(path.resolve(dir, location)));
  for (const t of modelTensors(model.proto)) {
    if (!isExternal(t)) continue;
    try {
      out.add(realOrResolved(path.resolve(dir, externalRef(t).location)));
    } catch {
      // A broken reference is reported when the tensor is read.
    }
  }
  return out;
}

function byteLength(chunks: Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '').slice(0, 120) || 'tensor';
}

function uniqueName(name: string, used: Set<string>): string {
  let n = name;
  for (let i = 1; used.has(n.toLowerCase()); i++) n = name.replace(/\.data$/, `.${i}.data`);
  used.add(n.toLowerCase());
  return n;
}

export function samePath(a: string, b: string): boolean {
  return realOrResolved(a) === realOrResolved(b);
}

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    // Not there yet: resolve its folder, so a symlinked folder still compares equal.
    try {
      return path.join(fs.realpathSync(path.dirname(path.resolve(p))), path.basename(p));
    } catch {
      return path.resolve(p);
    }
  }
}
