// Perplexity on lm_licenses_val of the shared language models after
// unstructured pruning of every block Linear (embeddings and lm_head kept):
// magnitude, Wanda and SparseGPT, at 50% and at 2:4, beside the torch
// reference in ../shared/models/README.md. Calibration: the 256 windows of
// lm_licenses_train_x. Run: npx tsx scripts/lm/prune-perplexity.ts [--size N]
// (N calibration windows; all 256 by default). Prints one table, and exits 1
// when a result is more than 3% above its reference.

import * as path from 'node:path';
import { loadModel, parseModel, serializeModel } from '../../src/onnx/model';
import { concatChunks } from '../../src/onnx/wire';
import { runPlan, type PlanStep } from '../../src/pruning/plan';
import { openCalibration } from '../../src/validation/activations';
import { perplexityOf } from '../../test/helpers/perplexity';

const MODELS = path.resolve(__dirname, '..', '..', '..', 'shared', 'models');
const at = (f: string) => path.join(MODELS, f);

/** ../shared/models/README.md, "Reference results for the language models". */
const REFERENCE: Record<string, Record<string, number>> = {
  'lm_gpt_licenses.onnx': { dense: 4.664, 'magnitude 50%': 5.453, 'wanda 50%': 5.494, 'sparsegpt 50%': 4.872, 'magnitude 2:4': 7.098, 'wanda 2:4': 7.251, 'sparsegpt 2:4': 5.165 },
  'lm_llama_licenses.onnx': { dense: 4.572, 'magnitude 50%': 5.370, 'wanda 50%': 5.192, 'sparsegpt 50%': 4.810, 'magnitude 2:4': 6.994, 'wanda 2:4': 6.502, 'sparsegpt 2:4': 5.130 },
};

const BLOCKS: Record<string, string[]> = { 'lm_gpt_licenses.onnx': ['h.*'], 'lm_llama_licenses.onnx': ['layers.*'] };

export function lmStep(job: string, layers: string[], calibration: string, size?: number): PlanStep {
  const [method, pattern] = job.split(' ');
  const target = pattern === '2:4' ? { nm: '2:4' } : { amount: 0.5 };
  const calib = { calibration: { data: calibration, ...(size ? { size } : {}) } };
  if (method === 'magnitude') return pattern === '2:4' ? { method: 'nm', nm: '2:4', layers } : { method: 'l1', amount: 0.5, layers };
  return { method: method as PlanStep['method'], layers, ...target, ...calib };
}

async function main(): Promise<void> {
  const sizeArg = process.argv.indexOf('--size');
  const size = sizeArg > 0 ? Number(process.argv[sizeArg + 1]) : undefined;
  let worst = 0;
  const rows: string[] = [];
  for (const file of Object.keys(REFERENCE)) {
    const source = await loadModel(at(file));
    for (const [job, reference] of Object.entries(REFERENCE[file])) {
      const model = parseModel(concatChunks(serializeModel(source)), source.file);
      const start = Date.now();
      if (job !== 'dense') {
        await runPlan(model, { steps: [lmStep(job, BLOCKS[file], at('lm_licenses_train_x.npy'), size)] }, {
          calibrate: (m, c) => openCalibration(m, { data: c.data, size: c.size, batch: c.batch }),
        });
      }
      const seconds = (Date.now() - start) / 1000;
      const ppl = await perplexityOf(concatChunks(serializeModel(model)), at('lm_licenses_val_x.npy'), at('lm_licenses_val_y.npy'));
      const ratio = ppl / reference;
      worst = Math.max(worst, ratio);
      rows.push(`${file.padEnd(24)} ${job.padEnd(14)} ${ppl.toFixed(3).padStart(7)} ${reference.toFixed(3).padStart(9)} ${((ratio - 1) * 100).toFixed(1).padStart(6)}% ${seconds.toFixed(1).padStart(6)} s`);
      process.stdout.write(rows[rows.length - 1] + '\n');
    }
  }
  process.stdout.write(`\nworst ratio to the torch reference: ${worst.toFixed(3)} (limit 1.03)\n`);
  process.exitCode = worst <= 1.03 ? 0 : 1;
}

if (require.main === module) void main();
