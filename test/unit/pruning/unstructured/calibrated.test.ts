// wanda and sparsegpt masks: the math on small cases worked by hand, then the
// shared language models against the torch reference of their README
// (../shared/models/README.md). The tests use 64 of the 256 calibration
// windows to stay quick; scripts/lm/prune-perplexity.ts gives the full-data table.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findPrunableLayers } from '../../../../src/analysis';
import { GraphIndex } from '../../../../src/onnx/graph';
import { loadModel, loadModelSync, parseModel, saveModel, serializeModel, type OnnxModel } from '../../../../src/onnx/model';
import { DataType, floatsToBytes, tensorFloats } from '../../../../src/onnx/tensor';
import { newGraph, newModel, newNode, newTensor, newValueInfo } from '../../../../src/onnx/build';
import { concatChunks } from '../../../../src/onnx/wire';
import { runPlan, validatePlan, type PlanStep } from '../../../../src/pruning/plan';
import { blockOf, sparseGpt, wandaMask, type SparsityTarget } from '../../../../src/pruning/unstructured';
import { openCalibration } from '../../../../src/validation/activations';
import { modelPath, tempDir } from '../../../helpers/models';
import { runModel, runModelFile } from '../../../helpers/ort';
import { perplexityOf } from '../../../helpers/perplexity';
import { mulberry32 } from '../../../../src/pruning/unstructured/random';
import { entriesToPrune } from '../../../../src/pruning/unstructured/amount';
import { cholesky, solveCholesky } from '../../../../src/pruning/recovery/ridge';
import { jsProducts } from '../../../../src/pruning/recovery/products';
import { ortProducts } from '../../../../src/validation/gram';

/** XᵀX of `n` random rows of width d, and the rows themselves. */
function randomInputs(n: number, d: number, seed: number): { x: Float64Array; h: Float64Array } {
  const random = mulberry32(seed);
  const x = Float64Array.from({ length: n * d }, () => random() * 2 - 1);
  // Correlated inputs, so that updating the kept weights has something to gain.
  for (let r = 0; r < n; r++) for (let i = 1; i < d; i++) x[r * d + i] += 0.8 * x[r * d + i - 1];
  const h = new Float64Array(d * d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) h[i * d + j] += x[r * d + i] * x[r * d + j];
  return { x, h };
}

/** ‖X·W − X·V‖² for weights [d, out]. */
function outputError(x: Float64Array, n: number, d: number, out: number, w: ArrayLike<number>, v: ArrayLike<number>): number {
  let e = 0;
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += x[r * d + i] * (w[i * out + o] - v[i * out + o]);
      e += s * s;
    }
  }
  return e;
}

/**
 * SparseGPT as the paper's Algorithm 1 states it, for comparison: H⁻¹ formed
 * explicitly (Cholesky solve), U its upper Cholesky factor, and every pruned
 * column's error applied to all later columns at once, no lazy blocks.
 */
function textbookSparseGpt(w: Float64Array, d: number, out: number, h: Float64Array, target: SparsityTarget): Uint8Array {
  const pruned = Uint8Array.from(w, (v) => (v === 0 ? 1 : 0));
  const a = Float64Array.from(h);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += h[i * d + i] === 0 ? 1 : h[i * d + i];
  for (let i = 0; i < d; i++) {
    if (h[i * d + i] === 0) {
      a[i * d + i] = 1;
      w.fill(0, i * out, (i + 1) * out);
    }
    a[i * d + i] += 0.01 * trace / d;
  }
  cholesky(a, d);
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) inv[i * d + i] = 1;
  solveCholesky(a, d, inv, d);
  cholesky(inv, d); // lower L, L Lᵀ = H⁻¹: U = Lᵀ
  const u = (i: number, j: number) => inv[j * d + i];
  const score = (k: number, i: number) => (w[k] * w[k]) / u(i, i) ** 2;
  for (let i = 0; i < d; i++) {
    if ('m' in target && i % target.m === 0) {
      for (let o = 0; o < out; o++) {
        const order = Array.from({ length: target.m }, (_, j) => j)
          .map((j) => ({ j, s: pruned[(i + j) * out + o] ? -1 : score((i + j) * out + o, i + j) }))
          .sort((x, y) => x.s - y.s || x.j - y.j);
        for (const { j } of order.slice(0, target.m - target.n)) pruned[(i + j) * out + o] = 1;
      }
    } else if ('fraction' in target && i % 32 === 0) {
      const alive: { k: number; s: number }[] = [];
      for (let r = i; r < Math.min(i + 32, d); r++) for (let o = 0; o < out; o++) if (!pruned[r * out + o]) alive.push({ k: r * out + o, s: score(r * out + o, r) });
      alive.sort((x, y) => x.s - y.s || x.k - y.k);
      for (const { k } of alive.slice(0, entriesToPrune(target, alive.length))) pruned[k] = 1;
    }
    for (let o = 0; o < out; o++) {
      const k = i * out + o;
      if (!pruned[k]) continue;
      const e = w[k] / u(i, i);
      for (let j = i; j < d; j++) w[j * out + o] -= e * u(i, j);
      w[k] = 0;
    }
  }
  return pruned;
}

describe('sparsegpt and wanda: the math', () => {
  it('sparsegpt on two inputs moves the pruned weight onto the kept one by the least-squares ratio', async () => {
    // H = [[a, b], [b, c]]: removing w0 is best answered by w1 += w0·b/c (OBS, or least squares).
    const h = Float64Array.from([4, 2, 2, 5]);
    const w = Float64Array.from([0.1, 3]);
    const mask = await sparseGpt(w, 2, 1, h, { fraction: 0.5 }, { dampening: 0 });
    assert.deepEqual([...mask], [1, 0]);
    assert.equal(w[0], 0);
    assert.ok(Math.abs(w[1] - (3 + 0.1 * 2 / 5)) < 1e-12, `w1 = ${w[1]}`);
  });

  it('sparsegpt keeps the pattern asked for, keeps earlier zeros, and beats zeroing the same weights', async () => {
    const [n, d, out] = [200, 64, 8];
    const { x, h } = randomInputs(n, d, 1);
    const random = mulberry32(2);
    const original = Float64Array.from({ length: d * out }, () => random() - 0.5);
    original[5 * out + 3] = 0;
    const targets: SparsityTarget[] = [{ fraction: 0.5 }, { n: 2, m: 4 }, { n: 4, m: 8 }];
    for (const target of targets) {
      const w = Float64Array.from(original);
      const mask = await sparseGpt(w, d, out, h, target);
      assert.equal(w[5 * out + 3], 0, 'an earlier zero stays zero');
      for (let k = 0; k < w.length; k++) assert.equal(mask[k] === 1, w[k] === 0, `mask and zeros agree at ${k}`);
      if ('m' in target) {
        for (let o = 0; o < out; o++) {
          for (let g = 0; g < d; g += target.m) {
            let kept = 0;
            for (let j = 0; j < target.m; j++) if (w[(g + j) * out + o] !== 0) kept++;
            assert.ok(kept <= target.n, `${target.n}:${target.m}: output ${o}, inputs ${g}.. keep ${kept}`);
          }
        }
      } else {
        // Each 32-input block loses half of its weights still there.
        assert.equal(mask.reduce((s, v) => s + v, 0), 1 + Math.round((32 * out - 1) / 2) + 32 * out / 2);
      }
      const zeroed = Float64Array.from(original, (v, k) => (mask[k] ? 0 : v));
      const updated = outputError(x, n, d, out, original, w);
      const plain = outputError(x, n, d, out, original, zeroed);
      assert.ok(updated < 0.8 * plain, `${JSON.stringify(target)}: error ${updated} with updates, ${plain} without`);
    }
  });

  it('sparsegpt with its products in onnxruntime or in JavaScript equals the textbook algorithm (explicit H⁻¹, no lazy updates)', async () => {
    // 520 inputs: the inverse recursion splits it (> 256) and the sweep spans several 128-input spans, the last one short.
    const [n, d, out] = [900, 520, 24];
    const { h } = randomInputs(n, d, 3);
    h.fill(0, 7 * d, 8 * d); // an input never seen: its weights go, and its diagonal becomes 1
    for (let i = 0; i < d; i++) h[i * d + 7] = 0;
    const random = mulberry32(4);
    const original = Float64Array.from({ length: d * out }, () => random() - 0.5);
    const products = await ortProducts();
    try {
      for (const target of [{ fraction: 0.5 }, { n: 2, m: 4 }] as SparsityTarget[]) {
        const reference = Float64Array.from(original);
        const referenceMask = textbookSparseGpt(reference, d, out, h, target);
        for (const backend of [jsProducts, products]) {
          const w = Float64Array.from(original);
          const timings: Record<string, number> = {};
          const mask = await sparseGpt(w, d, out, h, target, { products: backend, timings });
          assert.deepEqual([...mask], [...referenceMask], `${backend.name} ${JSON.stringify(target)}: the same mask`);
          let worst = 0;
          let scale = 0;
          for (let k = 0; k < w.length; k++) {
            worst = Math.max(worst, Math.abs(w[k] - reference[k]));
            scale = Math.max(scale, Math.abs(reference[k]));
          }
          assert.ok(worst <= 1e-9 * scale, `${backend.name} ${JSON.stringify(target)}: weights differ by ${worst} (largest ${scale})`);
          assert.deepEqual(Object.keys(timings).sort(), ['inverse', 'sweep', 'updates']);
        }
      }
    } finally {
      await products.release?.();
    }
  });

  it('wanda compares |w|·‖x‖ within each output, where magnitude would compare across outputs', () => {
    // [in = 4, out = 2]: input 0 is loud, input 3 is quiet.
    const w = Float32Array.from([0.1, 1, 0.2, 2, 0.3, 3, 0.4, 4]);
    const sumSq = Float64Array.from([10000, 1, 1, 0.01]);
    const mask = wandaMask(w, { dims: [4, 2], inAxis: 0, outAxis: 1 }, sumSq, { fraction: 0.5 });
    // Output 0: scores 10, .2, .3, .04 → prune inputs 3 and 1. Output 1: 100, 2, 3, .4 → the same inputs.
    assert.deepEqual([...mask], [0, 0, 1, 1, 0, 0, 1, 1]);
    const nm = wandaMask(w, { dims: [4, 2], inAxis: 0, outAxis: 1 }, sumSq, { n: 1, m: 2 });
    assert.deepEqual([...nm], [0, 0, 1, 1, 0, 0, 1, 1]);
  });

  it('a block is the numbered module a layer sits in', () => {
    assert.equal(blockOf('h.0.attn.q_proj'), 'h.0');
    assert.equal(blockOf('model.layers.12.mlp.down_proj'), 'model.layers.12');
    assert.equal(blockOf('lm_head'), 'lm_head');
  });
});

/**
 * An fp16 MLP stack: x (float32 [N, T, 64]) → Cast fp16 → 2 blocks of MatMul 64→128, Relu, MatMul 128→64,
 * residual Add → Cast float32. Weights are named like a torch export (`blocks.0.fc1.weight`).
 */
function fp16Stack(): OnnxModel {
  const random = mulberry32(5);
  const nodes = [newNode('Cast', ['x'], ['h0'], '/Cast', { to: DataType.FLOAT16 })];
  const initializers = [];
  for (let b = 0; b < 2; b++) {
    for (const [name, dims] of [['fc1', [64, 128]], ['fc2', [128, 64]]] as const) {
      const values = Float32Array.from({ length: dims[0] * dims[1] }, () => (random() - 0.5) * 0.3);
      initializers.push(newTensor(`blocks.${b}.${name}.weight`, DataType.FLOAT16, [...dims], floatsToBytes(values, DataType.FLOAT16)));
    }
    nodes.push(
      newNode('MatMul', [`h${b}`, `blocks.${b}.fc1.weight`], [`a${b}`], `/blocks.${b}/fc1/MatMul`),
      newNode('Relu', [`a${b}`], [`r${b}`], `/blocks.${b}/Relu`),
      newNode('MatMul', [`r${b}`, `blocks.${b}.fc2.weight`], [`m${b}`], `/blocks.${b}/fc2/MatMul`),
      newNode('Add', [`h${b}`, `m${b}`], [`h${b + 1}`], `/blocks.${b}/Add`),
    );
  }
  nodes.push(newNode('Cast', ['h2'], ['y'], '/Cast_1', { to: DataType.FLOAT }));
  const graph = newGraph('fp16_stack', nodes, [newValueInfo('x', DataType.FLOAT, ['N', 'T', 64])], [newValueInfo('y', DataType.FLOAT, ['N', 'T', 64])], initializers);
  return parseModel(concatChunks(serializeModel(newModel(graph, 17, 8))), 'fp16_stack.onnx');
}

describe('sparsegpt and wanda on an fp16 model', () => {
  it('reads fp16 activations, keeps 2:4 in the fp16 weights, and sparsegpt stays closer to the dense outputs than magnitude', async () => {
    const dense = fp16Stack();
    const calibration = { data: undefined, size: 32, batch: 16, dims: { T: 16 } };
    const outputsOf = async (m: OnnxModel) => {
      const source = await openCalibration(m, calibration);
      const run = await source.open(m, ['y']);
      try {
        return (await run.run(0)).get('y')!.data.slice();
      } finally {
        await run.release();
      }
    };
    const reference = await outputsOf(dense);
    const errors: Record<string, number> = {};
    for (const method of ['nm', 'wanda', 'sparsegpt'] as const) {
      const m = parseModel(concatChunks(serializeModel(dense)), dense.file);
      const s: PlanStep = method === 'nm' ? { method, nm: '2:4' } : { method, nm: '2:4', calibration: { data: 'generated' } };
      const report = await runPlan(m, { steps: [s] }, { calibrate: (model) => openCalibration(model, calibration) });
      assert.equal(report.layers.length, 4);
      for (const l of findPrunableLayers(new GraphIndex(m.graph))) {
        assert.equal(l.weight.tensor.data_type, DataType.FLOAT16, 'still fp16');
        const w = tensorFloats(l.weight.tensor, m.external);
        const out = l.dims[1];
        for (let g = 0; g < l.dims[0]; g += 4) {
          for (let o = 0; o < out; o++) {
            let kept = 0;
            for (let j = 0; j < 4; j++) if (w[(g + j) * out + o] !== 0) kept++;
            assert.ok(kept <= 2, `${method} ${l.displayName}: ${kept} of 4 kept`);
          }
        }
      }
      const y = await outputsOf(m);
      errors[method] = y.reduce((e, v, i) => e + (v - reference[i]) ** 2, 0);
    }
    console.log(`      squared output error at 2:4: ${JSON.stringify(errors)}`);
    assert.ok(errors.sparsegpt < 0.8 * errors.nm, JSON.stringify(errors));
  });
});

describe('sparsegpt and wanda on a model with external data', () => {
  it('prune as the same model inline, read the weights from the data file without changing it, and write an output that runs', async () => {
    const dir = tempDir('calib-external');
    const inline = fp16Stack();
    const source = path.join(dir, 'stack.onnx');
    // Every weight (16 KiB each) goes to stack.onnx.data: the calibration sessions must find them there.
    await saveModel(inline, source, { externalThreshold: 0 });
    const data = `${source}.data`;
    const before = { bytes: fs.readFileSync(data), mtime: fs.statSync(data).mtimeMs };
    const calibration = { data: undefined, size: 32, batch: 16, dims: { T: 16 } };
    for (const method of ['wanda', 'sparsegpt'] as const) {
      for (const segments of [true, false]) {
        const calibrate = async (m: OnnxModel) => {
          const s = await openCalibration(m, calibration);
          return segments ? s : Object.assign(Object.create(s), { openSegment: undefined });
        };
        const step: PlanStep = { method, nm: '2:4', calibration: { data: 'generated' } };
        const a = parseModel(concatChunks(serializeModel(inline)), inline.file);
        await runPlan(a, { steps: [step] }, { calibrate });
        const b = await loadModel(source);
        assert.equal(b.externalLayout.layout, 'single');
        assert.ok(findPrunableLayers(new GraphIndex(b.graph)).every((l) => l.weight.tensor.data_location === 1), 'weights external');
        const report = await runPlan(b, { steps: [step] }, { calibrate });
        assert.equal(report.layers.length, 4);
        const la = findPrunableLayers(new GraphIndex(a.graph));
        const lb = findPrunableLayers(new GraphIndex(b.graph));
        for (let i = 0; i < la.length; i++) {
          assert.deepEqual(tensorFloats(lb[i].weight.tensor, b.external), tensorFloats(la[i].weight.tensor, a.external),
            `${method} ${segments ? 'segments' : 'prefixes'} ${la[i].displayName}: the same weights as inline`);
        }
        const out = path.join(dir, `${method}-${segments}.onnx`);
        const saved = await saveModel(b, out);
        assert.deepEqual(saved.data.map((f) => path.basename(f)), [`${method}-${segments}.onnx.data`], 'the output keeps external data');
        const x = { dims: [2, 16, 64], data: Float32Array.from({ length: 2 * 16 * 64 }, (_, k) => Math.sin(k)) };
        const fromFile = (await runModelFile(out, { x })).y;
        const fromMemory = (await runModel(concatChunks(serializeModel(a)), { x })).y;
        assert.deepEqual(fromFile, fromMemory, 'the written model computes what the inline one does');
      }
    }
    assert.ok(before.bytes.equals(fs.readFileSync(data)) && fs.statSync(data).mtimeMs === before.mtime, 'the source data file is untouched');
  });
});

describe('calibrated pruning of external data keeps pruned weights out of memory', () => {
  /** The spill files this process holds open (Linux: unlinked at once, so seen only through /proc). */
  const openSpills = (dir: string) => fs.readdirSync('/proc/self/fd').map((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  }).filter((l) => l.startsWith(dir + path.sep));

  it('pruned weights go to a temporary file that no error, cancel or success leaves behind, and the output equals the inline prune', async () => {
    const dir = tempDir('calib-spill');
    const inline = fp16Stack();
    const source = path.join(dir, 'stack.onnx');
    await saveModel(inline, source, { externalThreshold: 0 });
    const tmp = fs.mkdtempSync(path.join(dir, 'tmp-'));
    const was = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      for (const method of ['wanda', 'sparsegpt'] as const) {
        const calibrate = (m: OnnxModel) => openCalibration(m, { data: undefined, size: 32, batch: 16, dims: { T: 16 } });
        const step: PlanStep = { method, nm: '2:4', calibration: { data: 'generated' } };
        const a = parseModel(concatChunks(serializeModel(inline)), inline.file);
        await runPlan(a, { steps: [step] }, { calibrate });
        const b = await loadModel(source);
        await runPlan(b, { steps: [step] }, { calibrate });
        const lb = findPrunableLayers(new GraphIndex(b.graph));
        assert.equal(lb.length, 4);
        for (const l of lb) {
          assert.ok(l.weight.tensor.raw_data === undefined && l.weight.tensor.data_location !== 1, `${method} ${l.displayName}: not in memory, not the source's`);
        }
        if (process.platform === 'linux') assert.ok(openSpills(fs.realpathSync(tmp)).length >= 1, 'a spill file, open in the temporary folder');
        assert.deepEqual(fs.readdirSync(tmp), [], 'the spill file has no name');
        // An error while writing (the output's folder does not exist): nothing written, nothing left.
        await assert.rejects(saveModel(b, path.join(dir, 'missing', 'out.onnx')));
        const out = path.join(dir, `${method}-spilled.onnx`);
        await saveModel(b, out);
        const la = findPrunableLayers(new GraphIndex(a.graph));
        const c = await loadModel(out);
        const lc = findPrunableLayers(new GraphIndex(c.graph));
        for (let i = 0; i < la.length; i++) {
          assert.deepEqual(tensorFloats(lc[i].weight.tensor, c.external), tensorFloats(la[i].weight.tensor, a.external), `${method} ${la[i].displayName}: written as inline`);
        }
        assert.deepEqual(fs.readdirSync(tmp), []);
        // A cancel after the first block.
        const controller = new AbortController();
        await assert.rejects(runPlan(await loadModel(source), { steps: [step] }, {
          calibrate, signal: controller.signal, onBlock: (p) => { if (p.done === 1) controller.abort(); },
        }), /cancelled/);
        assert.deepEqual(fs.readdirSync(tmp), []);
      }
    } finally {
      if (was === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = was;
    }
  });
});

describe('sparsegpt and wanda on the shared language models', () => {
  const CALIBRATION = modelPath('lm_licenses_train_x.npy');
  const VAL_X = modelPath('lm_licenses_val_x.npy');
  const VAL_Y = modelPath('lm_licenses_val_y.npy');
  const models = new Map<string, OnnxModel>();
  const fresh = (file: string) => {
    if (!models.has(file)) models.set(file, loadModelSync(modelPath(file)));
    const m = models.get(file)!;
    return parseModel(concatChunks(serializeModel(m)), m.file);
  };
  const step = (method: string, target: string, layers: string[]): PlanStep => {
    const pattern = target === '2:4' ? { nm: '2:4' } : { amount: 0.5 };
    if (method === 'magnitude') return target === '2:4' ? { method: 'nm', nm: '2:4', layers } : { method: 'l1', amount: 0.5, layers };
    return { method: method as PlanStep['method'], layers, ...pattern, calibration: { data: CALIBRATION, size: 64 } };
  };
  const prune = async (file: string, s: PlanStep, signal?: AbortSignal, onBlock?: (b: { block: string; done: number }) => void) => {
    const model = fresh(file);
    const report = await runPlan(model, { steps: [s] }, {
      calibrate: (m, c) => openCalibration(m, { data: c.data, size: c.size, batch: c.batch }), signal, onBlock,
    });
    return { model, report };
  };
  const perplexity = (m: OnnxModel) => perplexityOf(concatChunks(serializeModel(m)), VAL_X, VAL_Y);

  // The README's torch numbers; 64 calibration windows instead of 256 (the full-data table is in the script).
  const cases: [string, string, string, string[], number][] = [
    ['lm_gpt_licenses.onnx', 'magnitude', '2:4', ['h.*'], 7.098],
    ['lm_gpt_licenses.onnx', 'wanda', '2:4', ['h.*'], 7.251],
    ['lm_gpt_licenses.onnx', 'sparsegpt', '2:4', ['h.*'], 5.165],
    ['lm_llama_licenses.onnx', 'wanda', '50%', ['layers.*'], 5.192],
    ['lm_llama_licenses.onnx', 'sparsegpt', '50%', ['layers.*'], 4.810],
  ];
  const results = new Map<string, number>();
  for (const [file, method, target, layers, reference] of cases) {
    it(`${file} ${method} ${target}: perplexity within 3% of torch's ${reference}, every block Linear pruned, lm_head kept`, async () => {
      const { model, report } = await prune(file, step(method, target, layers));
      const ppl = await perplexity(model);
      results.set(`${file} ${method} ${target}`, ppl);
      console.log(`      perplexity ${ppl.toFixed(3)} (torch ${reference})`);
      assert.ok(ppl <= reference * 1.03, `${ppl} against ${reference}`);
      const all = findPrunableLayers(new GraphIndex(model.graph));
      const pruned = all.filter((l) => blockOf(l.displayName) !== l.displayName);
      assert.equal(report.layers.length, pruned.length, 'every block Linear');
      for (const l of all) {
        const values = tensorFloats(l.weight.tensor, model.external);
        const zeros = values.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
        assert.equal(zeros, pruned.includes(l) ? values.length / 2 : 0, `${l.displayName}: ${zeros} zeros of ${values.length}`);
      }
    });
  }

  it('sparsegpt is well below magnitude at 2:4 on the GPT model', () => {
    const magnitude = results.get('lm_gpt_licenses.onnx magnitude 2:4');
    const sparsegpt = results.get('lm_gpt_licenses.onnx sparsegpt 2:4');
    assert.ok(magnitude && sparsegpt, 'the cases above ran');
    assert.ok(sparsegpt < 0.8 * magnitude, `sparsegpt ${sparsegpt}, magnitude ${magnitude}`);
  });

  it('goes block by block, in graph order, and a cancel stops it between blocks', async () => {
    const seen: string[] = [];
    const controller = new AbortController();
    await assert.rejects(prune('lm_llama_licenses.onnx', { ...step('wanda', '2:4', ['layers.*']), calibration: { data: CALIBRATION, size: 8 } },
      controller.signal, (b) => {
        seen.push(b.block);
        if (b.done === 1) controller.abort();
      }), /pruning was cancelled/);
    assert.deepEqual(seen, ['layers.0', 'layers.1']);
  });

  it('running each block from the values held after the one before prunes as running every prefix again', async () => {
    const plan = { steps: [{ ...step('sparsegpt', '2:4', ['layers.*']), calibration: { data: CALIBRATION, size: 16 } }] };
    const pruneWith = async (segments: boolean) => {
      const model = fresh('lm_llama_licenses.onnx');
      let opened = 0;
      await runPlan(model, plan, {
        calibrate: async (m, c) => {
          const source = await openCalibration(m, { data: c.data, size: c.size, batch: c.batch });
          const segment = source.openSegment!;
          return Object.assign(Object.create(source), {
            openSegment: segments ? (...args: Parameters<typeof segment>) => { opened++; return segment(...args); } : undefined,
          });
        },
      });
      return { model, opened };
    };
    const bySegment = await pruneWith(true);
    const byPrefix = await pruneWith(false);
    assert.equal(bySegment.opened, 4 + 3, 'one segment per block to measure it, one per block boundary to carry its outputs on');
    assert.equal(byPrefix.opened, 0);
    const a = findPrunableLayers(new GraphIndex(bySegment.model.graph));
    const b = findPrunableLayers(new GraphIndex(byPrefix.model.graph));
    for (let i = 0; i < a.length; i++) {
      const x = tensorFloats(a[i].weight.tensor, bySegment.model.external);
      const y = tensorFloats(b[i].weight.tensor, byPrefix.model.external);
      let worst = 0;
      for (let k = 0; k < x.length; k++) worst = Math.max(worst, Math.abs(x[k] - y[k]));
      assert.ok(worst < 1e-3, `${a[i].displayName}: weights differ by up to ${worst}`);
    }
  });

  it('plans: wanda and sparsegpt masks take amount or nm, and calibration', () => {
    const errors = (s: Record<string, unknown>) => validatePlan({ steps: [s] }).filter((i) => i.severity === 'error').map((i) => i.message).join('\n');
    const calibration = { data: 'x.npy' };
    assert.equal(errors({ method: 'sparsegpt', nm: '2:4', calibration }), '');
    assert.equal(errors({ method: 'wanda', amount: 0.5, calibration }), '');
    assert.match(errors({ method: 'sparsegpt', amount: 0.5 }), /method sparsegpt measures each layer's inputs; add "calibration"/);
    assert.match(errors({ method: 'sparsegpt', amount: 0.5, nm: '2:4', calibration }), /needs exactly one of "amount" \(the sparsity of each layer\) or "nm"/);
    assert.match(errors({ method: 'sparsegpt', structured: true, amount: 0.5, calibration }), /sparsegpt works only on masks/);
    assert.match(errors({ method: 'wanda', count: 10, calibration }), /"count" does not apply to method wanda/);
    assert.match(errors({ method: 'wanda', amount: 0.5, scope: 'global', calibration }), /prunes each layer on its own/);
    assert.match(errors({ method: 'l1', amount: 0.5, nm: '2:4' }), /"nm" is only for method "nm", and for wanda and sparsegpt/);
  });
});
