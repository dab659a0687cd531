// Bench: language-model-sized files (llmModel.ts). For a ~1.1 GB and a ~4 GB
// fp16 MLP stack in external data: analyze, and prune 50% structured + write,
// each as a whole process, beside a plain read of the same files and the
// Python anchor (onnx.load + per-row L1/L2 in numpy), in one run, as ratios.
// Then a ~3 GB fp32 model pruned 20% unstructured: the output passes 2 GB,
// keeps external data, and onnxruntime's outputs match the model pruned in memory.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../../src/analysis';
import { pruneCommand } from '../../src/cli/prune';
import { loadModel, type OnnxModel } from '../../src/onnx/model';
import { DataType, tensorFloats } from '../../src/onnx/tensor';
import { runPlan, savePruned } from '../../src/pruning/plan';
import { BENCH_DIR, FFN, generateLlm, HIDDEN, llmBytes, type LlmSpec } from './llmModel';

const MB = 1024 * 1024;
const GB = 1e9;

/** What one measured process reports about itself. */
interface Own {
  peak: number;
  /** CPU seconds, user + system, all threads. */
  cpu: number;
}

interface Run extends Own {
  /** Whole-process wall time, measured by the parent, in ms. */
  wall: number;
}

// ---- child side ---------------------------------------------------------------

/** `bench.js --child-llm WHAT FILE [OUT]`: one measured job, then {peak, cpu} on stdout. */
export async function llmChild(args: string[]): Promise<void> {
  const [what, file, out] = args;
  if (what === 'read') plainRead(file);
  else if (what === 'analyze') await analyzeFile(file);
  else if (what === 'prune') {
    const code = await pruneCommand([file, '--method', 'l1', '--amount', '0.5', '--structured', '-o', out, '--force', '--json'], () => undefined);
    if (code !== 0) throw new Error(`prune exited with ${code}`);
  } else if (what === 'fp32-check') {
    process.stdout.write(JSON.stringify(await fp32Check(file, out)));
    return;
  } else throw new Error(`unknown llm measurement ${what}`);
  const cpu = process.cpuUsage();
  process.stdout.write(JSON.stringify({ peak: peakRss(), cpu: (cpu.user + cpu.system) / 1e6 } satisfies Own));
}

/** Every byte of the model and its data file, 16 MB at a time into one buffer. */
function plainRead(file: string): void {
  const buf = Buffer.allocUnsafe(16 * MB);
  for (const f of [file, `${file}.data`]) {
    const fd = fs.openSync(f, 'r');
    try {
      while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    } finally {
      fs.closeSync(fd);
    }
  }
}

function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

// ---- parent side --------------------------------------------------------------

function timed(cmd: string, args: string[]): Run {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * MB });
  const wall = performance.now() - t;
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const own = JSON.parse(r.stdout.trim().split('\n').pop()!) as Own;
  return { ...own, wall };
}

const node = (what: string, file: string, out?: string) =>
  timed(process.execPath, [path.join(__dirname, 'bench.js'), '--child-llm', what, file, ...(out ? [out] : [])]);

/** Debian's python3 (the pyenv one on PATH may lack python3-onnx). */
function python(): string | undefined {
  for (const p of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(p, ['-c', 'import onnx, numpy'], { encoding: 'utf8' });
    if (r.status === 0) return p;
  }
  return undefined;
}

function anchorScript(): string {
  for (const p of [path.join(__dirname, '..', 'scripts', 'bench', 'anchor.py'), path.join(__dirname, 'anchor.py')]) if (fs.existsSync(p)) return p;
  throw new Error('scripts/bench/anchor.py not found');
}

function best(runs: Run[]): Run {
  return runs.reduce((a, b) => (b.wall < a.wall ? b : a));
}

const fmt = (r: Run) => `${(r.wall / 1000).toFixed(2).padStart(7)} s   cpu ${r.cpu.toFixed(2).padStart(6)} s   peak ${(r.peak / MB).toFixed(0).padStart(5)} MiB`;

function load(): string {
  return `load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')} on ${os.availableParallelism?.() ?? os.cpus().length} cores`;
}

export async function llmSection(sizes: number[] = [16, 58]): Promise<string[]> {
  const out: string[] = [];
  const log = (s: string) => {
    console.log(s);
    out.push(s);
  };
  const py = python();
  log(`llm: Llama-style MLP stack, ${HIDDEN}×${FFN} fp16 gate/up/down per block, weights in one external data file (generated in ${BENCH_DIR})`);
  log('  whole processes, best of the rounds; ratios are against the Python anchor in the same round order');
  if (!py) log('  Python anchor skipped: Debian\'s python3-onnx is missing (apt-get install -y python3-onnx python3-numpy)');
  for (const blocks of sizes) {
    const spec: LlmSpec = { blocks, dtype: DataType.FLOAT16 };
    const t0 = performance.now();
    const file = generateLlm(spec);
    const genMs = performance.now() - t0;
    const pruned = path.join(outputDir(), 'pruned.onnx');
    const rounds = blocks <= 16 ? 3 : 2;
    const runs: Record<'read' | 'anchor' | 'analyze' | 'prune', Run[]> = { read: [], anchor: [], analyze: [], prune: [] };
    for (let i = 0; i < rounds; i++) {
      runs.read.push(node('read', file));
      if (py) runs.anchor.push(timed(py, [anchorScript(), file]));
      runs.analyze.push(node('analyze', file));
      removeOutput(pruned); // every round writes a new output (with --force over an old one, it would also flush it)
      runs.prune.push(node('prune', file, pruned));
    }
    const r = { read: best(runs.read), analyze: best(runs.analyze), prune: best(runs.prune), anchor: py ? best(runs.anchor) : undefined };
    log(`  ${blocks} blocks, ${(llmBytes(spec) / GB).toFixed(2)} GB of weights${genMs > 1000 ? ` (generated in ${(genMs / 1000).toFixed(0)} s)` : ''}; ${load()}`);
    log(`    plain read                 ${fmt(r.read)}`);
    if (r.anchor) log(`    Python anchor              ${fmt(r.anchor)}`);
    const ratio = (x: Run, target: number) => r.anchor
      ? `   ${(x.wall / r.anchor.wall).toFixed(2)}× anchor (target ≤ ${target.toFixed(1)}×), cpu ${(x.cpu / r.anchor.cpu).toFixed(2)}×, ${(x.wall / r.read.wall).toFixed(1)}× plain read`
      : `   ${(x.wall / r.read.wall).toFixed(1)}× plain read`;
    log(`    analyze                    ${fmt(r.analyze)}${ratio(r.analyze, 0.5)}   (peak target ≤ 300 MiB)`);
    log(`    prune l1 50% structured    ${fmt(r.prune)}${ratio(r.prune, 1.0)}`);
    log(`    output: ${await checkOutput(pruned)}`);
    fs.rmSync(path.dirname(pruned), { recursive: true, force: true });
  }
  return out;
}

/**
 * A fresh folder for the pruned outputs, removed with them: never the generated
 * model's folder, which other runs may be reading (or writing their own outputs to).
 */
function outputDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-bench-out-'));
}

function removeOutput(file: string): void {
  for (const f of fs.readdirSync(path.dirname(file)).filter((f) => f.startsWith(path.basename(file)))) fs.rmSync(path.join(path.dirname(file), f));
}

/** Keeps external data? Loads in onnxruntime and runs one token? */
async function checkOutput(file: string): Promise<string> {
  const ort = await import('onnxruntime-node');
  const onnxBytes = fs.statSync(file).size;
  const data = fs.existsSync(`${file}.data`) ? fs.statSync(`${file}.data`).size : 0;
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  try {
    const x = new Uint16Array(HIDDEN).fill(0x3c00); // 1.0 in fp16
    const y = await session.run({ x: new ort.Tensor('float16', x, [1, HIDDEN]) });
    const finite = Array.from(y.y.data as Uint16Array).every((h) => (h & 0x7c00) !== 0x7c00);
    return `${(onnxBytes / 1024).toFixed(0)} KiB .onnx + ${(data / MB).toFixed(0)} MiB external data; onnxruntime loads it and runs it (y [${y.y.dims.join(',')}], ${finite ? 'finite' : 'NOT finite'})`;
  } finally {
    await session.release();
  }
}

// ---- 3 GB fp32, 20% unstructured -------------------------------------------------

export async function llmFp32Section(blocks = 22): Promise<string[]> {
  const spec: LlmSpec = { blocks, dtype: DataType.FLOAT };
  const file = generateLlm(spec);
  const out = path.join(outputDir(), 'pruned.onnx');
  const t = performance.now();
  const r = spawnSync(process.execPath, [path.join(__dirname, 'bench.js'), '--child-llm', 'fp32-check', file, out], { encoding: 'utf8', maxBuffer: 64 * MB });
  const wall = performance.now() - t;
  if (r.status !== 0) throw new Error(`fp32 check failed: ${r.stderr.slice(-2000)}`);
  const c = JSON.parse(r.stdout.trim().split('\n').pop()!) as Awaited<ReturnType<typeof fp32Check>>;
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  const lines = [
    `llm fp32: ${blocks} blocks, ${(llmBytes(spec) / GB).toFixed(2)} GB fp32, pruned 20% unstructured (l1, per layer) and written; ${load()}`,
    `  load + prune + write ${(c.pruneMs / 1000).toFixed(1)} s (whole check ${(wall / 1000).toFixed(1)} s), peak ${(c.peak / MB).toFixed(0)} MiB`,
    `  output ${(c.onnxBytes / 1024).toFixed(0)} KiB .onnx + ${(c.dataBytes / GB).toFixed(2)} GB external data (${c.dataBytes > 2 ** 31 ? 'over' : 'NOT over'} 2 GiB); zeros ${(100 * c.sparsity).toFixed(1)}%`,
    `  onnxruntime: loads ${c.ortLoaded ? 'yes' : 'NO'}; output vs the in-memory pruned model (float64 reference): max |Δ| ${c.maxDiff.toExponential(2)} of max |y| ${c.maxAbs.toExponential(2)} (${c.maxDiff <= 1e-4 * c.maxAbs ? 'same' : 'DIFFERENT'})`,
  ];
  for (const l of lines) console.log(l);
  return lines;
}

async function fp32Check(file: string, out: string) {
  const t = performance.now();
  const model = await loadModel(file);
  const report = await runPlan(model, { steps: [{ method: 'l1', amount: 0.2 }] });
  await savePruned(model, report, out, { overwrite: true });
  const pruneMs = performance.now() - t;
  const expected = forward(model);
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(out, { intraOpNumThreads: 2 });
  let got: Float32Array;
  try {
    got = (await session.run({ x: new ort.Tensor('float32', input(), [1, HIDDEN]) })).y.data as Float32Array;
  } finally {
    await session.release();
  }
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < HIDDEN; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
  }
  return {
    pruneMs, peak: peakRss(), ortLoaded: true, maxDiff, maxAbs,
    onnxBytes: fs.statSync(out).size, dataBytes: fs.statSync(`${out}.data`).size,
    sparsity: report.totals.zerosAfter! / report.totals.paramsAfter,
  };
}

function input(): Float32Array {
  return Float32Array.from({ length: HIDDEN }, (_, i) => Math.sin(i * 0.37));
}

/** The stack's output for input(), in float64 from the in-memory (pruned) weights. */
function forward(model: OnnxModel): Float64Array {
  const w = (name: string) => tensorFloats(model.graph.initializer.find((t) => t.name === name)!, model.external);
  let x = Float64Array.from(input());
  for (let b = 0; ; b++) {
    const p = `model.layers.${b}.mlp`;
    if (!model.graph.initializer.some((t) => t.name === `${p}.gate_proj.weight`)) break;
    const g = matvec(x, w(`${p}.gate_proj.weight`), HIDDEN, FFN);
    const u = matvec(x, w(`${p}.up_proj.weight`), HIDDEN, FFN);
    const h = g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]);
    const d = matvec(h, w(`${p}.down_proj.weight`), FFN, HIDDEN);
    x = x.map((v, i) => v + d[i]);
  }
  return x;
}

/** x[k] · W[k, n] for W stored row-major [k, n]. */
function matvec(x: Float64Array, w: Float32Array, k: number, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < k; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const row = i * n;
    for (let j = 0; j < n; j++) y[j] += xi * w[row + j];
  }
  return y;
}
