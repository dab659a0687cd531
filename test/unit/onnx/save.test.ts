// Writing models that load: external data kept (or added past a threshold),
// the 2 GiB protobuf limit checked first, the source's files never written,
// and the .onnx + data + report set committed atomically: every failure and a
// cancel leave the previous files as they were and nothing half-written.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModel, loadModelSync, parseModel, saveModel, serializeModel, type OnnxModel } from '../../../src/onnx/model';
import { saveIO } from '../../../src/onnx/save';
import { newTensor } from '../../../src/onnx/build';
import { deferredSlice } from '../../../src/onnx/deferred';
import { countDeferredZeros } from '../../../src/onnx/slicePool';
import { DataType, isExternal, setTensorFloats, tensorBytes, tensorDims, tensorFloats } from '../../../src/onnx/tensor';
import { runPlan, savePruned, type PrunePlan } from '../../../src/pruning/plan';
import type { PruneReport } from '../../../src/pruning/report';
import { concatChunks } from '../../../src/onnx/wire';
import { NetBuilder } from '../../fixtures/models/builders';
import { tempDir } from '../../helpers/models';
import { firstBitDifference, runModel, runModelFile, type Feeds } from '../../helpers/ort';

/** x[N,64] → 128 → 64 → 10: every weight over 1 KB, so all of them go to external data. */
function mlp(): OnnxModel {
  const b = new NetBuilder(11);
  let x = { name: 'x', channels: 64 };
  x = b.relu(b.gemm(x, 128, undefined, 'fc1'));
  x = b.relu(b.gemm(x, 64, undefined, 'fc2'));
  b.gemm(x, 10, 'y', 'fc3');
  return b.model({ name: 'x', dims: ['N', 64] }, [{ name: 'y', dims: ['N', 10] }]);
}

const FEEDS: Feeds = { x: { dims: [3, 64], data: new NetBuilder(5).random(3 * 64, 1) } };

/** The model written with external data (one file, or one per tensor), as a fresh source in `dir`. */
async function externalSource(dir: string, layout: 'single' | 'per-tensor' = 'single', m = mlp()): Promise<string> {
  const file = path.join(dir, 'net.onnx');
  if (layout === 'single') {
    await saveModel(m, file, { externalThreshold: 0 });
    return file;
  }
  for (const t of m.graph.initializer) {
    if ((t.raw_data?.length ?? 0) < 1024) continue;
    fs.writeFileSync(path.join(dir, `${t.name}.bin`), t.raw_data!);
    delete t.raw_data;
    t.data_location = 1;
    t.external_data = [{ key: 'location', value: `${t.name}.bin` }];
  }
  fs.writeFileSync(file, concatChunks(serializeModel(m)));
  return file;
}

async function pruned(file: string): Promise<{ model: OnnxModel; report: Awaited<ReturnType<typeof runPlan>> }> {
  const model = await loadModel(file);
  const report = await runPlan(model, { steps: [{ method: 'l1', amount: 0.5, structured: true }] });
  return { model, report };
}

/** Outputs of the in-memory model, every tensor inlined (the reference a written file must match). */
async function inMemoryOutputs(model: OnnxModel): Promise<Float32Array> {
  const copy = parseModel(concatChunks(serializeModel(model)), model.file);
  for (const t of copy.graph.initializer) {
    if (!isExternal(t)) continue;
    t.raw_data = copy.external!(t);
    t.external_data = [];
    delete t.data_location;
  }
  return (await runModel(concatChunks(serializeModel(copy)), FEEDS)).y;
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) out[f] = createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex');
  return out;
}

describe('onnx save: external data', () => {
  it('a model read with one data file is written with one: <out>.data, which onnxruntime loads', async () => {
    const dir = tempDir('save-ext');
    const src = await externalSource(dir);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['net.onnx', 'net.onnx.data']);
    const { model, report } = await pruned(src);
    const expected = await inMemoryOutputs(model);
    const out = path.join(dir, 'net.pruned.onnx');
    const saved = await savePruned(model, report, out);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['net.onnx', 'net.onnx.data', 'net.pruned.onnx', 'net.pruned.onnx.data', 'net.pruned.onnx.report.json']);
    assert.equal(saved.totals.bytesAfter, fs.statSync(out).size + fs.statSync(`${out}.data`).size);
    const back = loadModelSync(out);
    assert.equal(back.externalLayout.layout, 'single');
    assert.deepEqual(back.externalLayout.files, ['net.pruned.onnx.data']);
    assert.ok(back.graph.initializer.filter(isExternal).length >= 3);
    assert.equal(firstBitDifference((await runModelFile(out, FEEDS)).y, expected), -1);
    // The pruned weights are what the in-memory model holds.
    const w = (m: OnnxModel) => tensorFloats(m.graph.initializer.find((t) => t.name === 'fc2.weight')!, m.external);
    assert.deepEqual(w(back), w(model));
  });

  it('a model read with one file per tensor is written with one file per tensor, under new names', async () => {
    const dir = tempDir('save-per-tensor');
    const src = await externalSource(dir, 'per-tensor');
    const before = snapshot(dir);
    const { model, report } = await pruned(src);
    const expected = await inMemoryOutputs(model);
    const out = path.join(dir, 'small.onnx');
    await savePruned(model, report, out);
    const back = loadModelSync(out);
    assert.equal(back.externalLayout.layout, 'per-tensor');
    assert.deepEqual(back.externalLayout.files.sort(), ['small.onnx.fc1.weight.data', 'small.onnx.fc2.weight.data', 'small.onnx.fc3.weight.data']);
    for (const [f, content] of Object.entries(before)) assert.equal(snapshot(dir)[f], content, f);
    assert.equal(firstBitDifference((await runModelFile(out, FEEDS)).y, expected), -1);
  });

  it('unchanged external tensors are copied from the source into the output folder, which may be another', async () => {
    const dir = tempDir('save-copy');
    const src = await externalSource(dir);
    const model = await loadModel(src);
    const expected = await inMemoryOutputs(model);
    const other = path.join(tempDir('save-copy-out'), 'copy.onnx');
    await saveModel(model, other);
    assert.deepEqual(fs.readdirSync(path.dirname(other)).sort(), ['copy.onnx', 'copy.onnx.data']);
    assert.equal(firstBitDifference((await runModelFile(other, FEEDS)).y, expected), -1);
  });

  it('an inline model goes to external data when its protobuf would pass the threshold, and stays inline below it', async () => {
    const dir = tempDir('save-threshold');
    const model = mlp();
    const expected = (await runModel(concatChunks(serializeModel(model)), FEEDS)).y;
    const size = concatChunks(serializeModel(model)).length;
    await saveModel(model, path.join(dir, 'inline.onnx'), { externalThreshold: size });
    await saveModel(model, path.join(dir, 'split.onnx'), { externalThreshold: size - 1 });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['inline.onnx', 'split.onnx', 'split.onnx.data']);
    assert.equal(fs.statSync(path.join(dir, 'inline.onnx')).size, size);
    assert.ok(fs.statSync(path.join(dir, 'split.onnx')).size < 2048);
    // Data offsets are page-aligned; small tensors (the biases) stay inline.
    const split = loadModelSync(path.join(dir, 'split.onnx'));
    for (const t of split.graph.initializer) {
      const off = Number(t.external_data.find((e) => e.key === 'offset')?.value ?? 0);
      assert.equal(isExternal(t), t.name!.endsWith('.weight'), t.name);
      assert.equal(off % 4096, 0);
    }
    assert.equal(firstBitDifference((await runModelFile(path.join(dir, 'split.onnx'), FEEDS)).y, expected), -1);
    // The in-memory model is not changed by writing it.
    assert.ok(!model.graph.initializer.some(isExternal));
  });

  it('a protobuf of 2 GiB or more is refused before anything is written', async () => {
    const dir = tempDir('save-2gib');
    const model = mlp();
    // Zero pages: the kernel maps them lazily, so this costs no real memory.
    const big = newTensor('huge', DataType.UINT8, [2 ** 31], new Uint8Array(2 ** 31));
    model.graph.initializer.push(big);
    await assert.rejects(saveModel(model, path.join(dir, 'big.onnx'), { externalThreshold: Infinity }),
      (e: any) => e.code === 'limit' && /2\.00 GiB protobuf; ONNX files must stay under 2 GiB/.test(e.message) && e.message.includes('big.onnx'));
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('a file of 2 GiB or more is refused on reading, saying 2 GiB', async () => {
    const dir = tempDir('load-2gib');
    const file = path.join(dir, 'sparse.onnx');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, 2 ** 31);
    await assert.rejects(loadModel(file), (e: any) => e.code === 'limit' && /under 2 GiB/.test(e.message));
    assert.throws(() => loadModelSync(file), (e: any) => e.code === 'limit' && /under 2 GiB/.test(e.message) && e.message.startsWith(file));
  });
});

describe('onnx save: never the source', () => {
  it('refuses an output that is the source model or one of its external data files, and leaves them as they were', async () => {
    const dir = tempDir('save-source');
    const src = await externalSource(dir);
    const before = snapshot(dir);
    const model = await loadModel(src);
    await assert.rejects(saveModel(model, src, { overwrite: true }), /refusing to overwrite the original model/);
    await assert.rejects(saveModel(model, `${src}.data`, { overwrite: true }), /source model's external data files/);
    assert.deepEqual(snapshot(dir), before);
  });

  it('refuses an output whose data file would be the source\'s data file', async () => {
    const dir = tempDir('save-source-data');
    // The source keeps its weights in "out.onnx.data": exactly the data file of an output "out.onnx".
    const first = await externalSource(dir);
    fs.renameSync(`${first}.data`, path.join(dir, 'out.onnx.data'));
    const m = loadModelSync(first);
    for (const t of m.graph.initializer.filter(isExternal)) t.external_data[0].value = 'out.onnx.data';
    fs.writeFileSync(first, concatChunks(serializeModel(m)));
    const before = snapshot(dir);
    const model = await loadModel(first);
    await assert.rejects(saveModel(model, path.join(dir, 'out.onnx'), { overwrite: true }),
      (e: any) => /external data files/.test(e.message) && e.message.includes('out.onnx.data'));
    assert.deepEqual(snapshot(dir), before);
  });
});

describe('onnx save: all files or none', () => {
  /** A folder with the source and a previous output set (model, data, report) from an earlier run. */
  async function withOldOutput(): Promise<{ dir: string; out: string; before: Record<string, string>; model: OnnxModel; report: any }> {
    const dir = tempDir('save-atomic');
    const src = await externalSource(dir);
    const out = path.join(dir, 'net.pruned.onnx');
    const old = await pruned(src);
    await savePruned(old.model, old.report, out);
    // This run prunes differently, so old and new files differ.
    const model = await loadModel(src);
    const report = await runPlan(model, { steps: [{ method: 'l2', amount: 0.25, structured: true }] });
    return { dir, out, before: snapshot(dir), model, report };
  }

  const restore: (() => void)[] = [];
  afterEach(() => restore.splice(0).forEach((r) => r()));
  function inject<K extends keyof typeof saveIO>(key: K, fn: (typeof saveIO)[K]): void {
    const orig = saveIO[key];
    saveIO[key] = fn;
    restore.push(() => (saveIO[key] = orig));
  }

  it('with overwrite, the new set replaces the old one when complete, and the report describes it', async () => {
    const { dir, out, before, model, report } = await withOldOutput();
    const saved = await savePruned(model, report, out, { overwrite: true });
    const after = snapshot(dir);
    assert.deepEqual(Object.keys(after), Object.keys(before));
    for (const f of ['net.pruned.onnx.data', 'net.pruned.onnx.report.json']) assert.notEqual(after[f], before[f], f);
    assert.equal(JSON.parse(fs.readFileSync(`${out}.report.json`, 'utf8')).method, saved.method);
    assert.equal(firstBitDifference((await runModelFile(out, FEEDS)).y, await inMemoryOutputs(model)), -1);
  });

  it('the report write fails: the old model, data and report are intact, nothing else is left', async () => {
    const { dir, out, before, model, report } = await withOldOutput();
    inject('write', (file, fh, bytes, off, len) => {
      if (file.includes('.report.json')) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', syscall: 'write' });
      return fh.write(bytes, off, len);
    });
    await assert.rejects(savePruned(model, report, out, { overwrite: true }), (e: any) => e.code === 'io' && e.message.includes('report.json'));
    assert.deepEqual(snapshot(dir), before);
  });

  for (const which of ['net.pruned.onnx.data', 'net.pruned.onnx', 'net.pruned.onnx.report.json']) {
    it(`a rename fails (${which}): the files moved before it are put back, the old set is intact`, async () => {
      const { dir, out, before, model, report } = await withOldOutput();
      inject('rename', async (from, to) => {
        if (path.basename(to) === which) throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO', syscall: 'rename' });
        return fs.promises.rename(from, to);
      });
      await assert.rejects(savePruned(model, report, out, { overwrite: true }), (e: any) => e.code === 'io' && e.message.includes(which));
      assert.deepEqual(snapshot(dir), before);
    });
  }

  it('the disk fills while the data is written: the old set is intact, no partial file is left', async () => {
    const { dir, out, before, model, report } = await withOldOutput();
    let written = 0;
    inject('write', (file, fh, bytes, off, len) => {
      written += len;
      if (written > 20_000) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
      return fh.write(bytes, off, len);
    });
    await assert.rejects(savePruned(model, report, out, { overwrite: true }), (e: any) => e.code === 'io' && /no space left/.test(e.message));
    assert.deepEqual(snapshot(dir), before);
  });

  it('a really full disk (a 64 KiB tmpfs, where mounting works): nothing is left behind', async function () {
    const mnt = tempDir('save-tmpfs');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      this.skip(); // not root, or no mount: the injected ENOSPC above covers the code path
    }
    try {
      const src = await externalSource(tempDir('save-tmpfs-src'));
      const { model, report } = await pruned(src);
      fs.writeFileSync(path.join(mnt, 'keep.txt'), 'old');
      // The pruned data (about 26 KB) cannot fit beside these.
      fs.writeFileSync(path.join(mnt, 'filler'), new Uint8Array(48 * 1024));
      await assert.rejects(savePruned(model, report, path.join(mnt, 'out.onnx')), (e: any) => e.code === 'io' && /no space/.test(e.message));
      assert.deepEqual(fs.readdirSync(mnt).sort(), ['filler', 'keep.txt']);
      assert.equal(fs.readFileSync(path.join(mnt, 'keep.txt'), 'utf8'), 'old');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('a really full disk while worker threads write the cuts (a 64 KiB tmpfs): nothing is left behind', async function () {
    const mnt = tempDir('save-tmpfs-threads');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      this.skip(); // not root, or no mount
    }
    try {
      const src = await externalSource(tempDir('save-tmpfs-threads-src'));
      const { model, report } = await pruned(src);
      fs.writeFileSync(path.join(mnt, 'keep.txt'), 'old');
      fs.writeFileSync(path.join(mnt, 'filler'), new Uint8Array(48 * 1024));
      await assert.rejects(savePruned(model, report, path.join(mnt, 'out.onnx'), { threads: 2 }), (e: any) => e.code === 'io' && /no space/.test(e.message));
      assert.deepEqual(fs.readdirSync(mnt).sort(), ['filler', 'keep.txt']);
      assert.equal(fs.readFileSync(path.join(mnt, 'keep.txt'), 'utf8'), 'old');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('a cancel while worker threads write the cuts: the old set is intact, nothing half-written is left', async () => {
    const { dir, before, out, model, report } = await withOldOutput();
    const controller = new AbortController();
    let calls = 0;
    await assert.rejects(savePruned(model, report, out, {
      overwrite: true, threads: 2, signal: controller.signal,
      onProgress: () => {
        if (++calls === 1) controller.abort();
      },
    }), (e: any) => e.code === 'cancelled');
    assert.ok(calls >= 1);
    assert.deepEqual(snapshot(dir), before);
  });

  it('a cancel mid-write: the old set is intact, nothing half-written is left', async () => {
    const { dir, out, before, model, report } = await withOldOutput();
    const controller = new AbortController();
    let calls = 0;
    await assert.rejects(savePruned(model, report, out, {
      overwrite: true, signal: controller.signal,
      onProgress: () => {
        if (++calls === 1) controller.abort();
      },
    }), (e: any) => e.code === 'cancelled');
    assert.ok(calls >= 1);
    assert.deepEqual(snapshot(dir), before);
  });

  it('without overwrite, a file that appears at the output path while writing is never replaced', async () => {
    const dir = tempDir('save-race');
    const src = await externalSource(dir);
    const { model, report } = await pruned(src);
    const out = path.join(dir, 'net.pruned.onnx');
    let raced = false;
    await assert.rejects(savePruned(model, report, out, {
      onProgress: () => {
        if (!raced) fs.writeFileSync(out, 'someone else');
        raced = true;
      },
    }), (e: any) => e.code === 'io' && /already exists/.test(e.message) && e.message.includes('net.pruned.onnx'));
    assert.equal(fs.readFileSync(out, 'utf8'), 'someone else');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['net.onnx', 'net.onnx.data', 'net.pruned.onnx']);
  });
});

describe('onnx save: cuts of external data, made when written', () => {
  const STRUCTURED: PrunePlan = { steps: [{ method: 'l1', amount: 0.5, structured: true }] };
  /** A report without what depends on where the model lives. */
  const plain = (r: PruneReport) => ({ ...r, source: '', output: '', totals: { ...r.totals, bytesBefore: 0, bytesAfter: 0 } });
  const deferred = (m: OnnxModel) => m.graph.initializer.filter((t) => deferredSlice(t)).map((t) => t.name).sort();

  /** The written model holds exactly the tensors of the model pruned in memory, and computes the same. */
  async function sameAsInMemory(out: string, ref: OnnxModel): Promise<void> {
    const back = loadModelSync(out);
    assert.deepEqual(back.graph.initializer.map((t) => t.name).sort(), ref.graph.initializer.map((t) => t.name).sort());
    for (const t of ref.graph.initializer) {
      const got = back.graph.initializer.find((b) => b.name === t.name)!;
      assert.deepEqual(tensorDims(got), tensorDims(t), t.name);
      assert.ok(Buffer.from(tensorBytes(got, back.external)).equals(Buffer.from(tensorBytes(t))), t.name);
    }
    assert.equal(firstBitDifference((await runModelFile(out, FEEDS)).y, (await runModel(concatChunks(serializeModel(ref)), FEEDS)).y), -1);
  }

  for (const threads of [0, 2]) {
    it(`a structured prune reads no cut weight; ${threads ? 'worker threads make' : 'this thread makes'} each cut into the output, bit for bit the in-memory cut`, async () => {
      const dir = tempDir('save-deferred');
      const model = await loadModel(await externalSource(dir));
      const report = await runPlan(model, STRUCTURED);
      // fc1 loses filters, fc2 filters and inputs, fc3 inputs; the biases are small and inline, cut in memory.
      assert.deepEqual(deferred(model), ['fc1.weight', 'fc2.weight', 'fc3.weight']);
      const out = path.join(dir, 'net.pruned.onnx');
      const progress: number[] = [];
      const saved = await savePruned(model, report, out, { threads, onProgress: (done) => progress.push(done) });
      assert.deepEqual(deferred(model), ['fc1.weight', 'fc2.weight', 'fc3.weight'], 'writing does not keep the cuts in memory');
      assert.ok(progress.length > 0 && progress.every((d, i) => i === 0 || d >= progress[i - 1]));
      assert.equal(saved.totals.bytesAfter, fs.statSync(out).size + fs.statSync(`${out}.data`).size);
      const ref = mlp();
      assert.deepEqual(plain(report), plain(await runPlan(ref, STRUCTURED)));
      await sameAsInMemory(out, ref);
    });
  }

  it('zeros in the cut weights are counted (on worker threads too) without making the cuts: the report is the in-memory one', async () => {
    // Every fifth weight zero, half of them -0.
    const withZeros = () => {
      const m = mlp();
      for (const t of m.graph.initializer.filter((x) => x.name!.endsWith('.weight'))) {
        const f = Float32Array.from(tensorFloats(t));
        for (let i = 0; i < f.length; i += 5) f[i] = i % 10 ? -0 : 0;
        setTensorFloats(t, tensorDims(t), f);
      }
      return m;
    };
    const dir = tempDir('save-deferred-zeros');
    const model = await loadModel(await externalSource(dir, 'single', withZeros()));
    const report = await runPlan(model, STRUCTURED);
    assert.deepEqual(deferred(model), ['fc1.weight', 'fc2.weight', 'fc3.weight']);
    const ref = withZeros();
    const refReport = await runPlan(ref, STRUCTURED);
    assert.ok(refReport.totals.zerosAfter! > 0);
    assert.deepEqual(plain(report), plain(refReport));
    // The same counts from worker threads.
    const cuts = model.graph.initializer.filter((t) => deferredSlice(t));
    const counted = cuts.map((t) => deferredSlice(t)!.zeros);
    for (const t of cuts) deferredSlice(t)!.zeros = undefined;
    await countDeferredZeros(cuts, { threads: 2 });
    assert.deepEqual(cuts.map((t) => deferredSlice(t)!.zeros), counted);
    assert.deepEqual(deferred(model), ['fc1.weight', 'fc2.weight', 'fc3.weight']);
    const out = path.join(dir, 'net.pruned.onnx');
    await savePruned(model, report, out, { threads: 2 });
    await sameAsInMemory(out, ref);
  });

  it('a second structured step cuts the cuts: each weight is still one slice of the source, and the model is the in-memory one', async () => {
    // random ranks without reading the weights, so the first step's cuts stay unmade into the second.
    const plan: PrunePlan = { steps: [{ method: 'l1', amount: 0.25, structured: true }, { method: 'random', amount: 0.25, structured: true, seed: 3 }] };
    const dir = tempDir('save-deferred-twice');
    const model = await loadModel(await externalSource(dir));
    const report = await runPlan(model, plan);
    assert.deepEqual(deferred(model), ['fc1.weight', 'fc2.weight', 'fc3.weight']);
    const ref = mlp();
    assert.deepEqual(plain(report), plain(await runPlan(ref, plan)));
    const out = path.join(dir, 'net.pruned.onnx');
    await savePruned(model, report, out, { threads: 2 });
    await sameAsInMemory(out, ref);
  });

  it('a cut read in memory before writing (an unstructured step after it) is made then, and written from memory', async () => {
    const plan: PrunePlan = { steps: [{ method: 'l1', amount: 0.5, structured: true }, { method: 'l1', amount: 0.3 }] };
    const dir = tempDir('save-deferred-made');
    const model = await loadModel(await externalSource(dir));
    const report = await runPlan(model, plan);
    assert.deepEqual(deferred(model), []);
    const ref = mlp();
    assert.deepEqual(plain(report), plain(await runPlan(ref, plan)));
    const out = path.join(dir, 'net.pruned.onnx');
    await savePruned(model, report, out, { threads: 2 });
    await sameAsInMemory(out, ref);
  });
});
