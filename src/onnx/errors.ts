// One error type for the whole core. It carries what a user needs to act:
// which file, where in it (field path, byte offset, node or layer) and a
// sentence. The CLI prints `message`; the extension shows it with "Show Log".

export type ErrorCode =
  | 'truncated'        // the bytes end inside a field
  | 'malformed'        // bytes that are not a valid protobuf encoding
  | 'not-onnx'         // valid protobuf, but not an ONNX model
  | 'limit'            // an absurd length, dimension or nesting depth
  | 'tensor'           // a tensor's data does not match its type and shape
  | 'external-data'    // a side file is missing, unsafe or too short
  | 'graph'            // a structural problem: cycles, dangling names
  | 'shape'            // shapes that cannot work together
  | 'unsupported'      // valid ONNX that this tool does not handle
  | 'plan'             // an invalid pruning plan
  | 'nothing-pruned'   // a prune that would remove nothing: no file is written
  | 'drastic'          // a prune that would nearly empty layers, stopped before writing when asked to
  | 'io'               // reading or writing a file failed
  | 'cancelled'
  | 'validation'
  | 'memory'           // a worker ran out of memory (a batch too large)
  | 'internal';

export interface ErrorLocation {
  /** Protobuf field path, e.g. `graph.initializer[3].raw_data`. */
  field?: string;
  /** Byte offset in the file. */
  offset?: number;
  node?: string;
  layer?: string;
  tensor?: string;
  step?: number;
}

export class PruneLensError extends Error {
  readonly code: ErrorCode;
  file?: string;
  readonly location: ErrorLocation;
  /** The sentence without the file prefix, for UIs that show the file apart. */
  readonly detail: string;

  constructor(code: ErrorCode, detail: string, location: ErrorLocation = {}, file?: string) {
    super(formatMessage(detail, location, file));
    this.name = 'PruneLensError';
    this.code = code;
    this.detail = detail;
    this.location = location;
    this.file = file;
  }

  /** Returns the same error, now naming the file (errors are raised deep, files are known high). */
  inFile(file: string): PruneLensError {
    if (this.file) return this;
    return new PruneLensError(this.code, this.detail, this.location, file);
  }
}

function formatMessage(detail: string, loc: ErrorLocation, file?: string): string {
  const where: string[] = [];
  if (loc.field) where.push(`field ${loc.field}`);
  if (loc.offset !== undefined) where.push(`byte ${loc.offset}`);
  if (loc.node) where.push(`node ${loc.node}`);
  if (loc.layer) where.push(`layer ${loc.layer}`);
  if (loc.tensor) where.push(`tensor ${loc.tensor}`);
  if (loc.step !== undefined) where.push(`step ${loc.step + 1}`);
  const at = where.length ? ` (${where.join(', ')})` : '';
  return `${file ? file + ': ' : ''}${detail}${at}`;
}

export function isPruneLensError(e: unknown): e is PruneLensError {
  return e instanceof PruneLensError;
}

/** Adds the file name to a core error, and wraps anything else so callers see one type. */
export function withFile(e: unknown, file: string): PruneLensError {
  if (e instanceof PruneLensError) return e.inFile(file);
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && typeof err.syscall === 'string') {
    const what = err.code === 'ENOENT' ? 'file not found' : err.code === 'EACCES' ? 'permission denied' : err.message;
    return new PruneLensError('io', what, {}, file);
  }
  return new PruneLensError('internal', `unexpected error: ${(err && err.message) || String(e)}`, {}, file);
}
