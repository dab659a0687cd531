// Finds initializer tensors in a model file while it is still being read, so
// work on their data (norms, checksums) can overlap with the disk. It reads
// only tags and lengths along ModelProto.graph.initializer and a tensor's dims,
// data_type and raw_data; everything else is skipped without being looked at.
// The full, validating decode still happens afterwards (codec.ts): a file this
// scanner misreads is only a missed optimisation, never a wrong result.

export interface LocatedTensor {
  dataType: number;
  dims: number[];
  /** raw_data's byte range in the file. */
  start: number;
  end: number;
}

/** A resumable scan: call `advance(available)` as bytes arrive; it reports tensors as found. */
export class TensorScanner {
  private available = 0;
  private readonly it: Generator<void, void, void>;
  private finished = false;

  constructor(private readonly buf: Uint8Array, private readonly size: number, private readonly onTensor: (t: LocatedTensor) => void) {
    this.it = this.scan();
  }

  advance(available: number): void {
    this.available = available;
    if (this.finished) return;
    try {
      if (this.it.next().done) this.finished = true;
    } catch {
      // Malformed bytes: stop scanning; the real decoder will report the problem.
      this.finished = true;
    }
  }

  private *need(end: number): Generator<void, void, void> {
    while (this.available < Math.min(end, this.size)) yield;
  }

  private *varint(pos: number): Generator<void, [number, number], void> {
    yield* this.need(pos + 10);
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10 && pos < this.size; i++) {
      const b = this.buf[pos++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return [v, pos];
      mul *= 128;
    }
    throw new Error('bad varint');
  }

  /** Walks the fields in [pos, end), calling visit for each; skips what visit does not consume. */
  private *fields(pos: number, end: number,
    visit: (no: number, wt: number, at: number, len: number) => Generator<void, void, void> | undefined): Generator<void, void, void> {
    while (pos < end) {
      const [tag, p1] = yield* this.varint(pos);
      const no = Math.floor(tag / 8);
      const wt = tag & 7;
      let at = p1;
      let len: number;
      if (wt === 0) {
        const [, next] = yield* this.varint(p1);
        len = next - p1;
      } else if (wt === 2) [len, at] = yield* this.varint(p1);
      else if (wt === 1) len = 8;
      else if (wt === 5) len = 4;
      else throw new Error('unsupported wire type');
      if (at + len > end) throw new Error('field overruns its message');
      const sub = visit(no, wt, at, len);
      if (sub) yield* sub;
      pos = at + len;
    }
  }

  private *scan(): Generator<void, void, void> {
    const self = this;
    yield* this.fields(0, this.size, (no, wt, at, len) =>
      no === 7 && wt === 2 ? self.fields(at, at + len, (gno, gwt, gat, glen) =>
        gno === 5 && gwt === 2 ? self.tensor(gat, gat + glen) : undefined) : undefined);
  }

  private *tensor(start: number, end: number): Generator<void, void, void> {
    const dims: number[] = [];
    let dataType = 0;
    let raw: [number, number] | undefined;
    let reported = false;
    const self = this;
    const report = () => {
      if (!reported && raw && dataType && dims.length) {
        reported = true;
        self.onTensor({ dataType, dims, start: raw[0], end: raw[1] });
      }
    };
    yield* this.fields(start, end, (no, wt, at, len) => {
      if (no === 1) return self.ints(wt, at, len, dims);
      if (no === 2 && wt === 0) return (function* () {
        [dataType] = yield* self.varint(at);
      })();
      if (no === 9 && wt === 2) {
        raw = [at, at + len];
        // dims and data_type come first in every writer we know; report before the data arrives.
        report();
      }
      return undefined;
    });
    report();
  }

  private *ints(wt: number, at: number, len: number, out: number[]): Generator<void, void, void> {
    if (wt === 0) {
      const [v] = yield* this.varint(at);
      out.push(v);
      return;
    }
    let p = at;
    while (p < at + len) {
      const [v, next] = yield* this.varint(p);
      out.push(v);
      p = next;
    }
  }
}
