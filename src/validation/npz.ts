// NumPy .npz archives: a zip of .npy entries. We read the zip's central
// directory (with the zip64 extensions NumPy writes), then give each entry as
// an ArraySource. Stored entries are read by offset like a .npy file;
// deflated ones are inflated as a stream, one chunk at a time.

import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { PruneLensError } from '../onnx/errors';
import { ArraySource, RowReader, offsetArray } from './arrays';
import { parseNpyHeader } from './npy';

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;

function readAt(fd: number, position: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  const n = fs.readSync(fd, out, 0, length, position);
  return out.subarray(0, n);
}

function readCentralDirectory(fd: number, file: string): ZipEntry[] {
  const fail = (detail: string) => new PruneLensError('malformed', `not a valid .npz (zip) file: ${detail}`, {}, file);
  const fileSize = fs.fstatSync(fd).size;
  // The end record is 22 bytes plus a comment of at most 65535 bytes.
  const tailStart = Math.max(0, fileSize - 22 - 65535);
  const tail = readAt(fd, tailStart, fileSize - tailStart);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIG) { eocd = i; break; }
  }
  if (eocd < 0) throw fail('no end-of-central-directory record');
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || tail.readUInt32LE(loc) !== ZIP64_LOCATOR_SIG) throw fail('zip64 locator missing');
    const z64 = readAt(fd, Number(tail.readBigUInt64LE(loc + 8)), 56);
    if (z64.length < 56 || z64.readUInt32LE(0) !== ZIP64_EOCD_SIG) throw fail('zip64 end record missing');
    count = Number(z64.readBigUInt64LE(32));
    cdSize = Number(z64.readBigUInt64LE(40));
    cdOffset = Number(z64.readBigUInt64LE(48));
  }
  if (cdOffset + cdSize > fileSize) throw fail('central directory lies past the end of the file');
  const cd = readAt(fd, cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIG) throw fail(`central directory entry ${i} is damaged`);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const entry: ZipEntry = {
      name: cd.toString('utf8', p + 46, p + 46 + nameLen),
      method: cd.readUInt16LE(p + 10),
      compressedSize: cd.readUInt32LE(p + 20),
      size: cd.readUInt32LE(p + 24),
      localHeaderOffset: cd.readUInt32LE(p + 42),
    };
    applyZip64Extra(entry, cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen));
    entries.push(entry);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Fields saturated at 0xffffffff are given, in this order, in the zip64 extra field (id 1). */
function applyZip64Extra(entry: ZipEntry, extra: Buffer): void {
  for (let q = 0; q + 4 <= extra.length;) {
    const id = extra.readUInt16LE(q);
    const len = extra.readUInt16LE(q + 2);
    if (id === 1) {
      let r = q + 4;
      const next = () => { const v = Number(extra.readBigUInt64LE(r)); r += 8; return v; };
      if (entry.size === 0xffffffff) entry.size = next();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next();
    }
    q += 4 + len;
  }
}

function entryDataStart(fd: number, entry: ZipEntry, file: string): number {
  const local = readAt(fd, entry.localHeaderOffset, 30);
  if (local.length < 30 || local.readUInt32LE(0) !== LOCAL_SIG) {
    throw new PruneLensError('malformed', `zip entry '${entry.name}' has no local header`, {}, file);
  }
  return entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
}

/** The arrays of an .npz file by name (`input.npy` is `input`). Reads only headers. */
export function readNpz(file: string): Map<string, ArraySource> {
  const fd = fs.openSync(file, 'r');
  try {
    const arrays = new Map<string, ArraySource>();
    for (const entry of readCentralDirectory(fd, file)) {
      if (!entry.name.endsWith('.npy')) continue;
      const name = entry.name.slice(0, -4);
      const label = `${file}:${name}`;
      const start = entryDataStart(fd, entry, file);
      if (entry.method === STORED) {
        const header = parseNpyHeader(readAt(fd, start, Math.min(entry.size, 64 * 1024)), label);
        arrays.set(name, offsetArray(file, label, start, header));
      } else if (entry.method === DEFLATED) {
        arrays.set(name, deflatedArray(file, label, fd, start, entry.compressedSize));
      } else {
        throw new PruneLensError('unsupported', `zip entry '${entry.name}' uses compression method ${entry.method}; only stored and deflated are supported`, {}, file);
      }
    }
    return arrays;
  } finally {
    fs.closeSync(fd);
  }
}

function deflatedArray(file: string, label: string, fd: number, start: number, compressedSize: number): ArraySource {
  // Inflate just enough of the front to see the .npy header (a sync flush
  // returns what it has instead of failing on the unfinished stream).
  const front = readAt(fd, start, Math.min(compressedSize, 64 * 1024));
  let header;
  try {
    header = parseNpyHeader(zlib.inflateRawSync(front, { finishFlush: zlib.constants.Z_SYNC_FLUSH }), label);
  } catch (e) {
    if (e instanceof PruneLensError) throw e;
    throw new PruneLensError('malformed', `cannot inflate: ${(e as Error).message}`, {}, label);
  }
  const { dataOffset, rowBytes, rows } = header;
  return {
    label,
    dtype: header.dtype,
    shape: header.shape,
    rowBytes,
    open(): RowReader {
      const source = fs.createReadStream(file, { start, end: start + compressedSize - 1 });
      const stream = source.pipe(zlib.createInflateRaw());
      // A corrupt entry can fail while no read is waiting (inflating ahead, or after the last read):
      // an 'error' with no listener would end the process. The next read sees the error through the iterator.
      source.on('error', (e) => stream.destroy(e));
      stream.on('error', () => undefined);
      const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      // Inflated bytes not yet handed out, kept as a list so a large batch is joined once.
      let held: Buffer[] = [];
      let heldBytes = 0;
      let toSkip = dataOffset;
      let delivered = 0;
      return {
        async read(count) {
          if (delivered + count > rows) throw new PruneLensError('validation', `asked for rows ${delivered}..${delivered + count} of ${rows}`, {}, label);
          const need = count * rowBytes;
          while (heldBytes < toSkip + need) {
            const { value, done } = await chunks.next().catch((e: Error) => {
              throw new PruneLensError('malformed', `cannot inflate: ${e.message}`, {}, label);
            });
            if (done) throw new PruneLensError('truncated', `compressed data ends inside row ${delivered + Math.floor((heldBytes - toSkip) / rowBytes)}`, {}, label);
            held.push(value);
            heldBytes += value.length;
          }
          const all = held.length === 1 ? held[0] : Buffer.concat(held, heldBytes);
          const out = Buffer.from(all.subarray(toSkip, toSkip + need));
          const rest = all.subarray(toSkip + need);
          held = rest.length ? [rest] : [];
          heldBytes = rest.length;
          toSkip = 0;
          delivered += count;
          return out;
        },
        close: () => stream.destroy(),
      };
    },
  };
}
