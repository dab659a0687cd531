// Bench: calibration plus least-squares reconstruction after a 50% L1
// structured prune, for the digits ResNet (256 training images) and for
// torchvision resnet18 (64 generated 224×224 inputs), with the Gram products
// in JavaScript and in onnxruntime. Returns lines to print.

import * as path from 'node:path';
import { loadModelSync } from '../../src/onnx/model';
import { jsGram, NormalEquations, reconstruct, type GramBackend } from '../../src/pruning/recovery';
import { pruneStructured } from '../../src/pruning/structured';
import { openCalibration, type CalibrationSpec } from '../../src/validation/activations';
import { ortGram } from '../../src/validation/gram';

async function timeOne(MODELS: string, file: string, ignore: string[], spec: CalibrationSpec, gram: GramBackend): Promise<string> {
  const original = loadModelSync(path.join(MODELS, file));
  const pruned = loadModelSync(path.join(MODELS, file));
  const { report } = pruneStructured(pruned, { criterion: 'l1', scope: 'local', ratio: 0.5, ignore });
  const start = process.hrtime.bigint();
  const source = await openCalibration(original, spec);
  const calibrated = process.hrtime.bigint();
  const errors = await reconstruct(original, pruned, source, { gram, removed: new Map(report.layers.map((l) => [l.layer, l.removed])) });
  const end = process.hrtime.bigint();
  const ms = (a: bigint, b: bigint) => (Number(b - a) / 1e6).toFixed(0);
  const meanAfter = errors.reduce((s, e) => s + e.errorAfter, 0) / Math.max(1, errors.length);
  const meanBefore = errors.reduce((s, e) => s + e.errorBefore, 0) / Math.max(1, errors.length);
  return `  ${file.padEnd(32)} gram ${gram.name.padEnd(11)} ${String(source.samples).padStart(4)} samples, ${String(errors.length).padStart(2)} layers refit: ` +
    `total ${ms(start, end).padStart(6)} ms (data ${ms(start, calibrated)} ms), mean error ${meanBefore.toFixed(3)} → ${meanAfter.toFixed(3)}`;
}

/** XᵀX and XᵀY of one resnet18-sized chunk (layer2 conv: 64 kept channels × 3×3 + bias, 28×28 positions × 16 images), both ways. */
async function gramProducts(ort: GramBackend): Promise<string[]> {
  const d = 64 * 9 + 1;
  const m = 64;
  const rows = 28 * 28 * 16;
  const x = new Float32Array(rows * d);
  const y = new Float32Array(rows * m);
  // ReLU-like inputs: about half zeros, which the JavaScript loop skips.
  for (let i = 0; i < x.length; i++) x[i] = Math.max(0, Math.sin(i * 12.9898) * 43758.5453 % 1);
  for (let i = 0; i < y.length; i++) y[i] = Math.cos(i * 78.233) * 2;
  const out: string[] = [];
  const results: NormalEquations[] = [];
  for (const gram of [jsGram, ort]) {
    const eq = new NormalEquations(d, m);
    const start = process.hrtime.bigint();
    await gram.accumulate(eq, x, y, rows);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    results.push(eq);
    out.push(`  Gram XᵀX + XᵀY, ${rows} rows × ${d} features × ${m} outputs: ${gram.name.padEnd(11)} ${ms.toFixed(0).padStart(6)} ms`);
  }
  let worst = 0;
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) {
    const a = results[0].gram[i * d + j];
    worst = Math.max(worst, Math.abs(a - results[1].gram[i * d + j]) / Math.max(1, Math.abs(a)));
  }
  out.push(`  largest relative difference between the two Gram matrices: ${worst.toExponential(1)}`);
  return out;
}

/** `models`: the shared models folder (the caller knows where it is; this file is bundled into dist/). */
export async function benchRecovery(models: string): Promise<string[]> {
  const lines = ['recovery: calibration + least-squares reconstruction after 50% L1 structured pruning'];
  const ort = await ortGram();
  try {
    for (const gram of [jsGram, ort]) {
      lines.push(await timeOne(models, 'digits_resnet_slim_s1e-2.onnx', ['fc'], { data: path.join(models, 'digits_train_x.npy'), size: 256 }, gram));
    }
    // The JavaScript Gram loop would take many minutes here; the products are compared below.
    lines.push(await timeOne(models, 'resnet18_seed0_bn.onnx', ['fc'], { size: 64, batch: 16, seed: 0 }, ort));
    lines.push(...await gramProducts(ort));
  } finally {
    await ort.release?.();
  }
  return lines;
}

