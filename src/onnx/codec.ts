// Table-driven protobuf codec for the ONNX messages in schema.ts.
//
// Decoding keeps, on every message, a view of its original bytes ($raw) and its
// unknown fields. Encoding writes a message's original bytes when nothing in it
// changed, and re-encodes only the messages that did (and, necessarily, their
// ancestors, whose lengths change). Change detection compares each message with
// a fresh decode of its own bytes, so callers edit plain objects freely and
// nothing they change can be silently lost.

import { PruneLensError } from './errors';
import { FieldDesc, isMessageType, Message, MessageDesc, MessageName, SCHEMA } from './schema';
import { WireReader, WireType, WireWriter } from './wire';

/** Deeper nesting than this is not a real model; refusing it keeps the stack safe. */
const MAX_DEPTH = 64;

type Obj = Message & Record<string, unknown>;

export interface DecodeOptions {
  /** Offset of buf[0] in the file, for error messages. */
  base?: number;
  /** Field path of the message, for error messages. */
  path?: string;
}

export function decodeMessage<T>(name: MessageName, buf: Uint8Array, opts: DecodeOptions = {}): T {
  return decodeAt(SCHEMA[name], buf, 0, buf.length, opts.base ?? 0, opts.path ?? '', 0) as T;
}

function decodeAt(desc: MessageDesc, buf: Uint8Array, start: number, end: number, base: number, path: string, depth: number): Obj {
  if (depth > MAX_DEPTH) {
    throw new PruneLensError('limit', `messages nested more than ${MAX_DEPTH} deep`, { field: path, offset: base + start });
  }
  const obj: Obj = {};
  for (const f of desc.fields) if (f.repeated) obj[f.name] = [];
  const r = new WireReader(buf, start, end, base, path);
  let unknown: Uint8Array[] | undefined;
  while (!r.done) {
    const fieldStart = r.pos;
    const tag = r.uint();
    const no = Math.floor(tag / 8);
    const wt = tag & 7;
    if (no === 0) r.fail('field number 0 is invalid', 'malformed', fieldStart);
    const f = desc.byNo.get(no);
    if (!f) {
      r.skip(wt);
      (unknown ??= []).push(buf.subarray(fieldStart, r.pos));
      continue;
    }
    const fpath = path ? `${path}.${f.name}` : f.name;
    if (isMessageType(f.type)) {
      if (wt !== WireType.Len) wireMismatch(r, fpath, wt, WireType.Len, fieldStart);
      r.path = fpath;
      const [s, e] = r.lenRange();
      r.path = path;
      if (f.repeated) {
        const list = obj[f.name] as Obj[];
        list.push(decodeAt(SCHEMA[f.type], buf, s, e, base, `${fpath}[${list.length}]`, depth + 1));
      } else {
        obj[f.name] = decodeAt(SCHEMA[f.type], buf, s, e, base, fpath, depth + 1);
      }
      continue;
    }
    r.path = fpath;
    if (f.repeated) {
      const list = obj[f.name] as unknown[];
      if (wt === WireType.Len && f.type !== 'string' && f.type !== 'bytes') readPacked(r, f, list);
      else {
        expectWire(r, f, wt, fieldStart);
        list.push(readScalar(r, f));
      }
    } else {
      expectWire(r, f, wt, fieldStart);
      obj[f.name] = readScalar(r, f);
    }
    r.path = path;
  }
  obj.$raw = buf.subarray(start, end);
  if (unknown) obj.$unknown = unknown;
  return obj;
}

function wireOf(type: FieldDesc['type']): WireType {
  switch (type) {
    case 'float': return WireType.I32;
    case 'double': return WireType.I64;
    case 'string': case 'bytes': return WireType.Len;
    default: return isMessageType(type) ? WireType.Len : WireType.Varint;
  }
}

function expectWire(r: WireReader, f: FieldDesc, wt: number, at: number): void {
  const want = wireOf(f.type);
  if (wt !== want) wireMismatch(r, r.path, wt, want, at);
}

function wireMismatch(r: WireReader, path: string, got: number, want: number, at: number): never {
  r.path = path;
  r.fail(`wrong wire type ${got} (expected ${want})`, 'malformed', at);
}

function readScalar(r: WireReader, f: FieldDesc): unknown {
  switch (f.type) {
    case 'int64': return r.int64();
    case 'uint64': return r.uint64();
    case 'int32': return r.int32();
    case 'float': return r.float();
    case 'double': return r.double();
    case 'string': return r.string();
    case 'bytes': return r.bytes();
  }
  throw new Error(`not a scalar: ${f.type}`);
}

function readPacked(r: WireReader, f: FieldDesc, list: unknown[]): void {
  const [s, e] = r.lenRange();
  const sub = new WireReader(r.buf, s, e, r.base, r.path);
  const width = f.type === 'float' ? 4 : f.type === 'double' ? 8 : 0;
  if (width && (e - s) % width !== 0) sub.fail(`packed ${f.type} data of ${e - s} bytes is not a multiple of ${width}`);
  while (!sub.done) list.push(readScalar(sub, f));
}

// ---- encoding ---------------------------------------------------------------

/** Encodes a message's fields (no tag, no length) as chunks. */
export function encodeMessage(name: MessageName, obj: Message): Uint8Array[] {
  const w = new WireWriter();
  writeBody(SCHEMA[name], obj as Obj, w, new Map());
  return w.finish();
}

/** Messages proven equal to their original bytes during one encode. */
type Memo = Map<Obj, boolean>;

function writeBody(desc: MessageDesc, obj: Obj, w: WireWriter, memo: Memo): void {
  if (obj.$raw && isUnchanged(desc, obj, memo)) {
    w.raw(obj.$raw);
    return;
  }
  for (const f of desc.fields) {
    const v = obj[f.name];
    if (v === undefined || v === null) continue;
    if (f.repeated) {
      const list = v as unknown[];
      if (!list.length) continue;
      if (isMessageType(f.type)) {
        for (const item of list) writeMessageField(f, SCHEMA[f.type], item as Obj, w, memo);
      } else if (f.packed) {
        const sub = new WireWriter();
        for (const item of list) writeScalar(f, item, sub);
        w.tag(f.no, WireType.Len);
        w.message(sub);
      } else {
        for (const item of list) {
          w.tag(f.no, wireOf(f.type));
          writeScalar(f, item, w);
        }
      }
    } else if (isMessageType(f.type)) {
      writeMessageField(f, SCHEMA[f.type], v as Obj, w, memo);
    } else {
      w.tag(f.no, wireOf(f.type));
      writeScalar(f, v, w);
    }
  }
  for (const u of obj.$unknown ?? []) w.raw(u);
}

function writeMessageField(f: FieldDesc, desc: MessageDesc, obj: Obj, w: WireWriter, memo: Memo): void {
  const sub = new WireWriter();
  writeBody(desc, obj, sub, memo);
  w.tag(f.no, WireType.Len);
  w.message(sub);
}

function writeScalar(f: FieldDesc, v: unknown, w: WireWriter): void {
  switch (f.type) {
    case 'int64': case 'uint64': case 'int32': return w.int64(v as number | bigint);
    case 'float': return w.float(v as number);
    case 'double': return w.double(v as number);
    case 'string': return w.string(v as string);
    case 'bytes': return w.bytes(v as Uint8Array);
  }
}

// ---- change detection --------------------------------------------------------

function isUnchanged(desc: MessageDesc, obj: Obj, memo: Memo): boolean {
  const known = memo.get(obj);
  if (known !== undefined) return known;
  const raw = obj.$raw!;
  // Decoding a subarray keeps every child's $raw in the same buffer, so regions compare.
  const fresh = decodeAt(desc, raw, 0, raw.length, 0, '', 0);
  fresh.$raw = raw;
  return sameMessage(desc, obj, fresh, memo);
}

/** Deep comparison with a fresh decode; records the verdict for every message it visits. */
function sameMessage(desc: MessageDesc, a: Obj, b: Obj, memo: Memo): boolean {
  let same = sameBytes(a.$unknown, b.$unknown);
  for (const f of desc.fields) {
    if (!same) break;
    const x = a[f.name];
    const y = b[f.name];
    if (f.repeated) {
      const xs = (x ?? []) as unknown[];
      const ys = y as unknown[];
      if (xs.length !== ys.length) { same = false; break; }
      for (let i = 0; i < xs.length && same; i++) same = sameValue(f, xs[i], ys[i], memo);
    } else if (x === undefined || y === undefined) {
      same = x === y;
    } else {
      same = sameValue(f, x, y, memo);
    }
  }
  // The verdict is about a's own bytes only when a was decoded from the same region
  // as b; otherwise (a moved or was copied here) writeBody checks a against its own.
  if (sameRegion(a.$raw, b.$raw)) memo.set(a, same);
  return same;
}

function sameRegion(x: Uint8Array | undefined, y: Uint8Array | undefined): boolean {
  return !!x && !!y && x.buffer === y.buffer && x.byteOffset === y.byteOffset && x.length === y.length;
}

function sameValue(f: FieldDesc, x: unknown, y: unknown, memo: Memo): boolean {
  if (isMessageType(f.type)) {
    const xo = x as Obj;
    // A message that is not the one decoded here (or was edited) must be checked on its own.
    if (!xo || typeof xo !== 'object') return false;
    return sameMessage(SCHEMA[f.type], xo, y as Obj, memo);
  }
  if (f.type === 'bytes') return sameBytes([x as Uint8Array], [y as Uint8Array]);
  return Object.is(x, y);
}

function sameBytes(xs: Uint8Array[] | undefined, ys: Uint8Array[] | undefined): boolean {
  const a = xs ?? [];
  const b = ys ?? [];
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (!(x instanceof Uint8Array) || x.length !== y.length) return false;
    if (x.buffer === y.buffer && x.byteOffset === y.byteOffset) continue;
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
  }
  return true;
}
