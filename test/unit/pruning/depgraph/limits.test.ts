// Allocations bounded by what the file holds: crafted models that declare
// absurd sizes get a 'limit' (or 'shape') error naming the file, the tensor and
// the dim, before anything is sized from them. The time these take is in
// `npm run bench` (section limits); here, what they allocate.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeModel } from '../../../../src/analysis';
import { PruneLensError } from '../../../../src/onnx/errors';
import { parseModel } from '../../../../src/onnx/model';
import { buildDependencyGraph } from '../../../../src/pruning/depgraph';
import { hugeFlattenModel, hugeInputModel, hugeWeightModel, indivisibleGroupModel } from '../../../fixtures/models/crafted';
import { ROOT, tempDir } from '../../../helpers/models';

/** Runs fn and returns its error and how much JS heap plus ArrayBuffer memory it grew by (after a GC when exposed). */
function allocation(fn: () => void): { error: unknown; grown: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const used = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
  const before = used();
  let error: unknown;
  let peak = before;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  peak = Math.max(peak, used());
  return { error, grown: peak - before };
}

function expectLimit(e: unknown, file: string, re: RegExp, code = 'limit'): void {
  assert.ok(e instanceof PruneLensError, `expected a PruneLensError, got ${String(e)}`);
  assert.equal(e.code, code);
  assert.ok(e.message.startsWith(`${file}: `), e.message);
  assert.match(e.message, re);
}

describe('depgraph: allocations bounded by what the file holds', () => {
  const file = '/models/crafted.onnx';

  it('the ~100-byte model with input [1, 500000000]: a limit error naming x and dim 1, allocating under 50 MB', () => {
    const bytes = hugeInputModel();
    assert.ok(bytes.length <= 110, `${bytes.length} bytes`);
    const model = parseModel(bytes, file);
    analyzeModel(model); // one Gemm of 0 → 2 channels: fine
    const { error, grown } = allocation(() => buildDependencyGraph(model));
    expectLimit(error, file, /x declares 500000000 channels on dim 1; Prune Lens handles at most 1048576 channels per tensor.*\(tensor x\)/);
    assert.ok(grown < 50 * 2 ** 20, `grew by ${(grown / 2 ** 20).toFixed(1)} MB`);
  });

  it('a weight declaring 500M filters with no elements: refused by the analysis, naming the tensor and dim 0', () => {
    const { error, grown } = allocation(() => analyzeModel(parseModel(hugeWeightModel(), file)));
    expectLimit(error, file, /w declares 500000000 channels on dim 0.*\(node conv, tensor w\)/);
    assert.ok(grown < 50 * 2 ** 20, `grew by ${(grown / 2 ** 20).toFixed(1)} MB`);
  });

  it('a Flatten to 20M positions: refused at the Flatten before its labels are allocated', () => {
    const model = parseModel(hugeFlattenModel(), file);
    const { error, grown } = allocation(() => buildDependencyGraph(model));
    expectLimit(error, file, /a flattened axis of 4 channels × 5000000 has 20000000 positions; structured pruning tracks at most 16777216.*\(node flatten\)/);
    assert.ok(grown < 50 * 2 ** 20, `grew by ${(grown / 2 ** 20).toFixed(1)} MB`);
  });

  it('a group that does not divide the filters: a shape error naming the node and the weight (not a RangeError)', () => {
    const { error } = allocation(() => analyzeModel(parseModel(indivisibleGroupModel(), file)));
    expectLimit(error, file, /Conv conv has group 4, which does not divide dim 0 \(6\) of its weight w \(node conv, tensor w\)/, 'shape');
  });

  it('the CLI prints the same error for the crafted model and exits 1, for analyze-then-prune', function () {
    this.timeout(120_000);
    const cli = path.join(ROOT, 'dist', 'cli.js');
    const newest = (dir: string): number => Math.max(0, ...fs.readdirSync(dir, { withFileTypes: true })
      .map((e) => (e.isDirectory() ? newest(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).mtimeMs)));
    if (!fs.existsSync(cli) || fs.statSync(cli).mtimeMs < newest(path.join(ROOT, 'src'))) {
      const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(build.status, 0, build.stderr);
    }
    const dir = tempDir('crafted');
    const model = path.join(dir, 'crafted.onnx');
    fs.writeFileSync(model, hugeInputModel());
    const r = spawnSync(process.execPath, [cli, 'prune', model, '--method', 'l1', '--structured', '--amount', '0.5'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`^prune-lens prune: ${model.replace(/[.\\/]/g, '\\$&')}: x declares 500000000 channels on dim 1`));
    assert.ok(!fs.existsSync(path.join(dir, 'crafted.pruned.onnx')), 'nothing written');
  });
});
