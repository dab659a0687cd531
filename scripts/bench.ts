// `npm run bench`: performance figures, printed, never asserted in tests.
// Each measurement runs in a fresh child process so its peak memory is its own.
//
//   node dist/bench.js                 all sections
//   node dist/bench.js analyze         one section
//   node dist/bench.js llm 16          the language-model section at one size (blocks; 16 ≈ 1.1 GB, 58 ≈ 4 GB)
//   node dist/bench.js --child ...     (internal) one measurement

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeFile, analyzeModel } from '../src/analysis';
import { PruneLensError } from '../src/onnx/errors';
import { buildDependencyGraph } from '../src/pruning/depgraph';
import { hugeInputModel } from '../test/fixtures/models/crafted';
import { floatTensor, newGraph, newModel, newNode, newValueInfo } from '../src/onnx/build';
import { loadModel, OnnxModel, saveModel } from '../src/onnx/model';
import { DataType } from '../src/onnx/tensor';
import { pruneStructuredFile } from '../src/pruning/structured';
import { validate } from '../src/worker';
import { measureActivation } from './bench/activation';
import { benchLatency } from './bench/latency';
import { benchRecovery } from './bench/recovery';
import { llmChild, llmFp32Section, llmSection } from './bench/llm';
import { benchLlmPrune } from './bench/llmPrune';
import { benchResponsive, responsiveChild } from './bench/responsive';

const ROOT = path.resolve(__dirname, '..');
const MODELS = path.resolve(ROOT, '../shared/models');
const CACHE = path.join(ROOT, '.cache', 'bench');
const MB = 1024 * 1024;

interface Measure {
  /** Best of several runs, in ms. */
  ms: number;
  /** Peak resident memory of the whole process, in bytes. */
  peak: number;
  /** Resident memory before the measured work started. */
  base: number;
}

// ---- child side --------------------------------------------------------------

async function child(args: string[]): Promise<void> {
  const [what, file, runsArg] = args;
  const runs = Number(runsArg ?? 5);
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  gc();
  const base = process.memoryUsage().rss;
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    if (what === 'read') await fs.promises.readFile(file);
    else if (what === 'analyze') await analyzeFile(file);
    else if (what === 'crafted') await craftedToError(file);
    else throw new Error(`unknown measurement ${what}`);
    best = Math.min(best, performance.now() - t);
    gc();
  }
  const m: Measure = { ms: best, peak: peakRss(), base };
  process.stdout.write(JSON.stringify(m));
}

/**
 * The process's own peak resident memory (VmHWM). Not getrusage's maxRSS: Linux
 * carries that across exec, so a child would report its parent's peak.
 */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

function measure(what: string, file: string, runs = 5): Measure {
  const r = spawnSync(process.execPath, ['--expose-gc', __filename, '--child', what, file, String(runs)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench child ${what} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Measure;
}

/** Load, analyse and build the dependency graph of a crafted model, as a hover does; it must end in a PruneLensError. */
async function craftedToError(file: string): Promise<void> {
  try {
    const model = await loadModel(file);
    analyzeModel(model);
    buildDependencyGraph(model);
  } catch (e) {
    if (e instanceof PruneLensError) return;
    throw e;
  }
  throw new Error(`${file} was not refused`);
}

// ---- generated large model -----------------------------------------------------

/** A 553 MB MLP (4096→8192→8192→4096→1000), generated once into .cache/bench. */
async function bigModel(): Promise<string> {
  const file = path.join(CACHE, 'mlp-553mb.onnx');
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(CACHE, { recursive: true });
  let seed = 12345;
  const rand = (n: number, scale: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) | 0;
      a[i] = ((seed >>> 8) / 16777216 - 0.5) * scale;
    }
    return a;
  };
  const widths = [4096, 8192, 8192, 4096, 1000];
  const nodes = [];
  const inits = [];
  let x = 'input';
  for (let i = 0; i + 1 < widths.length; i++) {
    const [k, n] = [widths[i], widths[i + 1]];
    inits.push(floatTensor(`fc${i + 1}.weight`, [n, k], rand(n * k, 0.02)), floatTensor(`fc${i + 1}.bias`, [n], rand(n, 0.02)));
    const y = i + 2 < widths.length ? `fc${i + 1}_out` : 'logits';
    nodes.push(newNode('Gemm', [x, `fc${i + 1}.weight`, `fc${i + 1}.bias`], [y], `/fc${i + 1}/Gemm`, { transB: 1 }));
    x = y;
    if (i + 2 < widths.length) {
      nodes.push(newNode('Relu', [y], [`relu${i + 1}`], `/relu${i + 1}/Relu`));
      x = `relu${i + 1}`;
    }
  }
  const graph = newGraph('bench_mlp', nodes, [newValueInfo('input', DataType.FLOAT, ['N', 4096])],
    [newValueInfo('logits', DataType.FLOAT, ['N', 1000])], inits);
  await saveModel(new OnnxModel(newModel(graph), new Uint8Array(0)), file);
  return file;
}

// ---- sections -------------------------------------------------------------------

function peakOf(m: Measure): Pick<Measure, 'peak' | 'base'> {
  return { peak: m.peak, base: m.base };
}

function row(label: string, m: Measure, extra = ''): string {
  return `  ${label.padEnd(34)} ${m.ms.toFixed(1).padStart(8)} ms   peak RSS ${(m.peak / MB).toFixed(0).padStart(5)} MiB (+${((m.peak - m.base) / MB).toFixed(0)} MiB over start)${extra}`;
}

async function analyzeSection(): Promise<void> {
  console.log('analyze: layer table vs a plain fs.readFile of the same file (time: best of 5; memory: one run in a fresh process)');
  for (const file of [path.join(MODELS, 'resnet18_seed0_bn.onnx'), await bigModel()]) {
    const size = fs.statSync(file).size;
    // Timing: best of 5 in one process. Memory: a single run in its own process, so
    // no earlier run's buffer can still be waiting for the collector.
    const read = { ...measure('read', file), ...peakOf(measure('read', file, 1)) };
    const analyze = { ...measure('analyze', file), ...peakOf(measure('analyze', file, 1)) };
    console.log(`  ${path.basename(file)} (${(size / MB).toFixed(1)} MiB)`);
    console.log(row('fs.readFile', read));
    console.log(row('analyzeFile', analyze, `   ratio ${(analyze.ms / read.ms).toFixed(2)}x (target ≤ 1.25x)`));
    const growth = analyze.peak - analyze.base;
    console.log(`  analyze memory growth beyond the file size: ${((growth - size) / MB).toFixed(1)} MiB (fs.readFile: ${((read.peak - read.base - size) / MB).toFixed(1)} MiB)`);
  }
}

/** Wall-clock time of a whole command, best of `runs`. */
function timeCommand(args: string[], runs = 3): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

const RESNET18 = () => path.join(MODELS, 'resnet18_seed0_bn.onnx');

async function pruneSection(): Promise<void> {
  console.log('prune: structured L1, 50% of channels, resnet18_seed0_bn, load + prune + write as a whole process (best of 3)');
  fs.mkdirSync(CACHE, { recursive: true });
  const out = path.join(CACHE, 'resnet18_prune_bench.onnx');
  const cli = path.join(ROOT, 'dist', 'cli.js');
  const ms = timeCommand([cli, 'prune', RESNET18(), '--method', 'l1', '--amount', '0.5', '--structured', '-o', out, '--force']);
  const before = fs.statSync(RESNET18()).size;
  const after = fs.statSync(out).size;
  console.log(`  prune-lens prune ... --structured     ${ms.toFixed(0).padStart(6)} ms (target ≤ 1000 ms)   ${(before / MB).toFixed(1)} MiB → ${(after / MB).toFixed(1)} MiB`);
  const node = timeCommand(['-e', '0']);
  console.log(`  (node startup alone                  ${node.toFixed(0).padStart(6)} ms)`);
}

async function validateSection(): Promise<void> {
  console.log('validate: resnet18_seed0_bn before and after structured L1 50% pruning, CPU, batch 1, 32 generated inputs');
  fs.mkdirSync(CACHE, { recursive: true });
  const pruned = path.join(CACHE, 'resnet18_l1_50.onnx');
  await pruneStructuredFile(RESNET18(), pruned, { criterion: 'l1', ratio: 0.5, overwrite: true });
  const measureModel = async (file: string) => (await analyzeFile(file)).totals;
  const r = await validate({ original: RESNET18(), pruned, providers: ['cpu'], batchSize: 1, samples: 32, warmup: 3, measure: measureModel });
  const macRatio = r.original.macs / r.pruned.macs;
  const fmt = (side: typeof r.original) => `p50 ${side.latency.p50.toFixed(1)} ms  p95 ${side.latency.p95.toFixed(1)} ms  ${side.latency.throughput.toFixed(1)}/s  MACs ${(side.macs / 1e9).toFixed(3)} G`;
  console.log(`  provider ${r.provider}`);
  console.log(`  original  ${fmt(r.original)}`);
  console.log(`  pruned    ${fmt(r.pruned)}`);
  console.log(`  speedup ${r.speedup.toFixed(2)}x   MAC ratio ${macRatio.toFixed(2)}x   speedup / MAC ratio ${(r.speedup / macRatio).toFixed(2)} (target ≥ 0.70)`);
  console.log(`  agreement ${r.agreement.toFixed(3)}  (random weights and inputs: agreement means little here)`);
}

async function activationSection(): Promise<void> {
  console.log('activation: loading dist/extension.js and running activate() (best of 5, fresh process each)');
  let best = Infinity;
  let parsed = 0;
  for (let i = 0; i < 5; i++) {
    const r = spawnSync(process.execPath, [__filename, '--child-activation'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`activation bench failed: ${r.stderr}`);
    const m = JSON.parse(r.stdout) as { ms: number; parsedFiles: number };
    best = Math.min(best, m.ms);
    parsed = Math.max(parsed, m.parsedFiles);
  }
  console.log(`  activate                             ${best.toFixed(1).padStart(6)} ms (target ≤ 50 ms)   models parsed during activation: ${parsed} (must be 0)`);
}

async function recoverySection(): Promise<void> {
  for (const line of await benchRecovery(MODELS)) console.log(line);
}

async function latencySection(): Promise<void> {
  for (const line of await benchLatency(MODELS)) console.log(line);
}

/** The crafted ~100-byte model declaring input [1, 500000000]: time and memory to its clear error. */
async function limitsSection(): Promise<void> {
  fs.mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, 'crafted-huge-input.onnx');
  fs.writeFileSync(file, hugeInputModel());
  console.log(`limits: ${path.basename(file)} (${fs.statSync(file).size} B, input [1, 500000000]) from bytes to its 'limit' error (target < 100 ms, < 50 MB)`);
  const read = { ...measure('read', file), ...peakOf(measure('read', file, 1)) };
  const crafted = { ...measure('crafted', file), ...peakOf(measure('crafted', file, 1)) };
  console.log(row('fs.readFile', read));
  console.log(row('load + analyse + dependency graph', crafted));
}

async function llmPruneSection(): Promise<void> {
  for (const line of await benchLlmPrune(CACHE, path.join(ROOT, 'dist', 'cli.js'))) console.log(line);
}

const SECTIONS: Record<string, () => Promise<void>> = {
  analyze: analyzeSection,
  latency: latencySection,
  limits: limitsSection,
  prune: pruneSection,
  validate: validateSection,
  activation: activationSection,
  recovery: recoverySection,
  // Generated GB-sized files (outside the repository; PRUNE_LENS_BENCH_DIR): `llm` ~1.1 and ~4 GB fp16, `llm-fp32` ~3 GB.
  llm: async () => void (await llmSection()),
  'llm-fp32': async () => void (await llmFp32Section()),
  'llm-prune': llmPruneSection,
  // The extension host's event-loop stalls while the extension analyses and prunes the ~1.1 GB model, and cancels of both.
  'llm-responsive': async () => void (await benchResponsive()),
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args.slice(1));
  if (args[0] === '--child-llm') return llmChild(args.slice(1));
  if (args[0] === '--child-responsive') return responsiveChild(args.slice(1));
  if (args[0] === '--child-activation') {
    process.stdout.write(JSON.stringify(await measureActivation()));
    return;
  }
  if (args[0] === 'llm' && args.length > 1) {
    await llmSection(args.slice(1).map(Number));
    return;
  }
  const pick = args.length ? args : Object.keys(SECTIONS);
  for (const name of pick) {
    const run = SECTIONS[name];
    if (!run) throw new Error(`unknown bench section ${name}; sections: ${Object.keys(SECTIONS).join(', ')}`);
    await run();
    console.log('');
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
