// The analyze command as users run it: the built dist/cli.js in a child process.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeFile, type LayerTable } from '../../../src/analysis';
import { jsonPieces } from '../../../src/analysis/jsonPieces';
import { loadModelSync, saveModel } from '../../../src/onnx/model';
import { ROOT, modelPath, tempDir } from '../../helpers/models';

const CLI = path.join(ROOT, 'dist', 'cli.js');

/** Newest modification time of any source file the CLI bundle is built from. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
}

describe('prune-lens analyze (dist/cli.js)', () => {
  before(function () {
    this.timeout(120_000);
    if (!fs.existsSync(CLI) || fs.statSync(CLI).mtimeMs < newestSource(path.join(ROOT, 'src'))) {
      const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(build.status, 0, `the build failed:\n${build.stderr}`);
    }
  });

  it('--json on digits_vgg_slim_s1e-2 lists 4 Conv with gammas of 32, 32, 64, 64 and 2 Gemm', () => {
    const r = cli('analyze', path.relative(ROOT, modelPath('digits_vgg_slim_s1e-2.onnx')), '--json');
    assert.equal(r.status, 0, r.stderr);
    const t = JSON.parse(r.stdout) as LayerTable;
    assert.deepEqual(t.layers.map((l) => l.op), ['Conv', 'Conv', 'Conv', 'Conv', 'Gemm', 'Gemm']);
    assert.deepEqual(t.layers.map((l) => l.batchNorm?.gamma.length), [32, 32, 64, 64, undefined, undefined]);
    assert.deepEqual(t.layers.map((l) => l.displayName),
      ['features.0.0', 'features.1.0', 'features.3.0', 'features.4.0', 'classifier.1', 'classifier.3']);
    assert.ok(t.layers[0].batchNorm!.gamma.every((g) => typeof g === 'number' && Number.isFinite(g)));
    assert.equal(t.file, '../shared/models/digits_vgg_slim_s1e-2.onnx');
  });

  it('--json is written as it is formatted, byte for byte what JSON.stringify(table, null, 2) gives', async () => {
    for (const name of ['lm_llama_licenses.onnx', 'digits_vgg_slim_s1e-2.onnx']) {
      const rel = path.relative(ROOT, modelPath(name));
      const r = cli('analyze', rel, '--json');
      assert.equal(r.status, 0, r.stderr);
      const t = await analyzeFile(path.join(ROOT, rel));
      assert.equal(r.stdout, JSON.stringify({ ...t, file: rel }, null, 2) + '\n', name);
    }
  });

  it('jsonPieces joins to JSON.stringify(value, null, indent): members left out, empty and nested arrays, scalars', () => {
    const values: unknown[] = [
      { a: 1, skip: undefined, f: () => 1, b: [], c: [1, [2, { d: 'x\ny' }], undefined, null], e: {}, g: { h: [{ i: 2 }] } },
      {}, { only: undefined }, [1, 2], 'text', 3.5, null, { toJSON: () => ({ z: [1] }) }, { list: [{}], n: -0 },
    ];
    for (const v of values) for (const indent of [0, 2, 4]) assert.equal([...jsonPieces(v, indent)].join(''), JSON.stringify(v, null, indent), `${JSON.stringify(v)} at indent ${indent}`);
  });

  it('the text table names every layer, left-aligned, and the totals', () => {
    const r = cli('analyze', modelPath('digits_lenet.onnx'));
    assert.equal(r.status, 0, r.stderr);
    for (const [name, op] of [['conv1', 'Conv'], ['conv2', 'Conv'], ['fc1', 'Gemm'], ['fc2', 'Gemm'], ['fc3', 'Gemm']]) {
      assert.match(r.stdout, new RegExp(`^${name}\\s+${op}\\s`, 'm'));
    }
    assert.match(r.stdout, /5 prunable layers/);
  });

  it('a file that is not ONNX exits 1 with a message naming the file', () => {
    const file = path.join(tempDir('cli'), 'notes.onnx');
    fs.writeFileSync(file, 'just some text\n');
    const r = cli('analyze', file);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.startsWith(`prune-lens analyze: ${file}: `), r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace instead of a message');
  });

  it('a missing file exits 1 naming it; a missing argument is a usage error (exit 2)', () => {
    const r = cli('analyze', 'no-such-model.onnx');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no-such-model\.onnx: file not found/);
    assert.equal(cli('analyze').status, 2);
  });

  it('lm_gpt_licenses: norms, the tied embedding, attention heads, per-head minima; MACs at --seq-len 64 and per token', () => {
    const r = cli('analyze', modelPath('lm_gpt_licenses.onnx'), '--seq-len', '64');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^h\.0\.attn\.q_proj\s+MatMul\s+128→128\s+16\.4k\s+1\.05M\s.*\s4×32 \d+\.\d+\s/m);
    assert.match(r.stdout, /^h\.0\.ln_1\s+LayerNorm\s+128\s+[\d.]+ \/ [\d.]+\s+yes$/m);
    assert.match(r.stdout, /^wte\s+256\s+128\s+lm_head$/m);
    assert.match(r.stdout, /^h\.3\.attn\s+4 heads, dim 32$/m);
    // 4 × (4·128² + 2·128·512) + 128·256 = 819200 per token.
    assert.match(r.stdout, /MACs 52\.43M at 64 tokens \(819\.2k per token\)/);
    assert.match(cli('analyze', modelPath('lm_gpt_licenses.onnx')).stdout, /MACs 819\.2k per token \(--seq-len N for a length\)/);
    assert.equal(cli('analyze', modelPath('lm_gpt_licenses.onnx'), '--seq-len', '0').status, 2);
  });

  it('--progress prints progress to stderr up to 100%, the table still to stdout; prune keeps external data', async () => {
    const dir = tempDir('cli-ext');
    const file = path.join(dir, 'lenet.onnx');
    await saveModel(loadModelSync(modelPath('digits_lenet.onnx')), file, { externalThreshold: 0 });
    const r = cli('analyze', file, '--json', '--progress');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^analyzing .*lenet\.onnx: \d+% /m);
    assert.match(r.stderr, /: 100% \(/);
    assert.equal((JSON.parse(r.stdout) as LayerTable).layers.length, 5);
    const p = cli('prune', file, '--method', 'l1', '--amount', '0.5', '--structured', '--json');
    assert.equal(p.status, 0, p.stderr);
    assert.deepEqual(fs.readdirSync(dir).sort(),
      ['lenet.onnx', 'lenet.onnx.data', 'lenet.pruned.onnx', 'lenet.pruned.onnx.data', 'lenet.pruned.onnx.report.json']);
  });
});
