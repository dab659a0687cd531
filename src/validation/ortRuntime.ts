// Loads onnxruntime-node in the worker, optionally with CUDA provider
// libraries from a folder of the user's choosing (`cudaLibraryPath`).
//
// What we found in onnxruntime-node 1.30 (linux/x64):
// - dist/binding.js requires bin/napi-v6/<platform>/<arch>/onnxruntime_binding.node,
//   whose RUNPATH is $ORIGIN, so it loads libonnxruntime.so.1 from its own folder.
// - libonnxruntime finds its own folder with dladdr() ("runtime path") and
//   dlopen()s provider libraries by absolute path in that folder:
//   <runtime path>/libonnxruntime_providers_shared.so, then ..._cuda.so. So
//   LD_LIBRARY_PATH cannot point it at them. The npm package leaves them out
//   (they come from a NuGet download that .npmrc skips).
// - dladdr() reports the path the library was loaded through, symlinks not
//   resolved (checked: errors then name the staging folder below).
// So: we make a staging folder holding a copy of the binding (a copy, since
// Node's require resolves symlinks for addons) and symlinks to
// libonnxruntime.so.1 and to the provider libraries in cudaLibraryPath, and
// load that binding in place of the packaged one. The CUDA libraries the
// provider itself needs (libcudart, libcublas, libcudnn) are found by the
// dynamic loader through LD_LIBRARY_PATH, which the client sets in the
// worker's environment when it forks it (the loader reads it at process start).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { PruneLensError } from '../onnx/errors';
import { assertNativeAllowed } from './native';
import type { OrtRuntime } from './providers';

const PROVIDER_LIBRARIES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_tensorrt.so'];

function packagedBinDir(): string {
  const main = require.resolve('onnxruntime-node');
  return path.join(path.dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

/** Builds (or reuses) the staging folder for `cudaLibraryPath`; returns its path. */
function stageCudaRuntime(cudaLibraryPath: string): string {
  const folder = path.resolve(cudaLibraryPath);
  if (!fs.existsSync(path.join(folder, 'libonnxruntime_providers_cuda.so'))) {
    throw new PruneLensError('validation', `cudaLibraryPath holds no libonnxruntime_providers_cuda.so`, {}, folder);
  }
  const bin = packagedBinDir();
  const version = (require('onnxruntime-node/package.json') as { version: string }).version;
  const key = crypto.createHash('sha256').update(`${bin}\n${folder}`).digest('hex').slice(0, 12);
  const stage = path.join(os.tmpdir(), `prune-lens-ort-${version}-${key}`);
  fs.mkdirSync(stage, { recursive: true });
  const binding = path.join(stage, 'onnxruntime_binding.node');
  if (!fs.existsSync(binding)) {
    // Copy under a private name, then rename: another worker may be staging too.
    const temp = `${binding}.${process.pid}.tmp`;
    fs.copyFileSync(path.join(bin, 'onnxruntime_binding.node'), temp);
    fs.renameSync(temp, binding);
  }
  const link = (target: string, name: string) => {
    const at = path.join(stage, name);
    try { fs.unlinkSync(at); } catch { /* not there yet */ }
    try { fs.symlinkSync(target, at); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
  };
  link(path.join(bin, 'libonnxruntime.so.1'), 'libonnxruntime.so.1');
  for (const lib of PROVIDER_LIBRARIES) {
    const from = [folder, bin].map((d) => path.join(d, lib)).find((p) => fs.existsSync(p));
    if (from) link(from, lib);
  }
  return stage;
}

/** onnxruntime-node as it is, loaded on first use, behind the gate (calibration and Gram products, CPU only). */
export function requireOrt(): typeof Ort {
  assertNativeAllowed();
  return require('onnxruntime-node') as typeof Ort;
}

/** Loads onnxruntime-node, through a CUDA staging folder when `cudaLibraryPath` is set (Linux only). */
export function loadOrt(cudaLibraryPath?: string): OrtRuntime {
  assertNativeAllowed();
  let libraryDir = packagedBinDir();
  if (cudaLibraryPath && process.platform === 'linux') {
    libraryDir = stageCudaRuntime(cudaLibraryPath);
    const packaged = path.join(packagedBinDir(), 'onnxruntime_binding.node');
    // onnxruntime-node's binding.js will require `packaged`; hand it the staged addon instead.
    const addon = new Module(packaged);
    addon.filename = packaged;
    process.dlopen(addon, path.join(libraryDir, 'onnxruntime_binding.node'));
    addon.loaded = true;
    require.cache[packaged] = addon;
  }
  const ort = require('onnxruntime-node') as typeof Ort;
  return {
    createSession: (file, options) => ort.InferenceSession.create(file, options),
    makeTensor: (type, data, dims) => new ort.Tensor(type as 'float32', data as Float32Array, dims),
    bundled: ort.listSupportedBackends().filter((b) => b.bundled).map((b) => b.name),
    libraryDir,
  };
}
