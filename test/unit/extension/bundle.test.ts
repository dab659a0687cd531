// What the extension bundle may load at activation: never onnxruntime-node
// (native code that must wait for workspace trust), which only the
// validation worker process loads.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

const root = path.resolve(__dirname, '../../..');

describe('extension bundle', () => {
  it('does not import onnxruntime-node; only the validation worker does', async () => {
    const build = (entry: string) =>
      esbuild.build({
        entryPoints: [path.join(root, entry)], bundle: true, write: false, metafile: true, platform: 'node', format: 'cjs',
        mainFields: ['module', 'main'], external: ['vscode', 'onnxruntime-node'], logLevel: 'silent',
      });
    const importsOrt = (r: esbuild.BuildResult & { metafile: esbuild.Metafile }) =>
      Object.values(r.metafile.inputs).some((i) => i.imports.some((x) => x.path === 'onnxruntime-node'));
    assert.equal(importsOrt(await build('src/extension/main.ts')), false, 'dist/extension.js would load onnxruntime-node');
    assert.equal(importsOrt(await build('src/extension/analysisWorker.ts')), false, 'dist/analysisWorker.js would load onnxruntime-node');
    assert.equal(importsOrt(await build('src/analysis/statsWorker.ts')), false, 'dist/statsWorker.js would load onnxruntime-node');
    assert.equal(importsOrt(await build('src/onnx/sliceWorker.ts')), false, 'dist/sliceWorker.js would load onnxruntime-node');
    // The check can fail: the worker does import it.
    assert.equal(importsOrt(await build('src/worker/worker.ts')), true, 'the worker should import onnxruntime-node');
  });
});
