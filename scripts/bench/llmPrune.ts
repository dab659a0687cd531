// Bench: wanda and sparsegpt at 2:4 on a generated fp16 Llama-style MLP stack
// (blocks of gate/up/down MatMuls with SiLU·Mul and a residual Add), with 64
// calibration sequences of 128 random hidden states. Each prune is a whole
// `prune-lens prune` process: wall time and peak RSS (/usr/bin/time). Then a
// sparsegpt prune is interrupted (SIGINT) once it is under way, and the
// output folder must hold no file.
//
// The size comes from PRUNE_LENS_LLM_BENCH="BLOCKS,HIDDEN,FFN" (default
// "4,512,1408", about 11 MB; the figure is "16,2048,5632", about 1.1 GB
// of fp16 weights). The model is written inline (one .onnx, under 2 GB).

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newGraph, newModel, newNode, newTensor, newValueInfo } from '../../src/onnx/build';
import { OnnxModel, saveModel } from '../../src/onnx/model';
import type { TensorProto } from '../../src/onnx/schema';
import { DataType, floatsToBytes } from '../../src/onnx/tensor';
import { mulberry32 } from '../../src/pruning/unstructured/random';
import { writeNpy } from '../../src/validation/npy';

const MB = 1024 * 1024;

interface Size { blocks: number; hidden: number; ffn: number }

function sizeFromEnv(): Size {
  const text = process.env.PRUNE_LENS_LLM_BENCH ?? '4,512,1408';
  const [blocks, hidden, ffn] = text.split(',').map(Number);
  if (![blocks, hidden, ffn].every((n) => Number.isInteger(n) && n > 0) || hidden % 8 || ffn % 8) {
    throw new Error(`PRUNE_LENS_LLM_BENCH is "BLOCKS,HIDDEN,FFN" with HIDDEN and FFN multiples of 8, not "${text}"`);
  }
  return { blocks, hidden, ffn };
}

/** Gaussian-ish fp16 weights of std ≈ scale (sum of 4 uniforms), seeded. */
function fp16Weight(name: string, dims: [number, number], scale: number, random: () => number): TensorProto {
  const values = new Float32Array(dims[0] * dims[1]);
  for (let i = 0; i < values.length; i++) values[i] = (random() + random() + random() + random() - 2) * scale * Math.sqrt(3);
  return newTensor(name, DataType.FLOAT16, dims, floatsToBytes(values, DataType.FLOAT16));
}

export async function generate(file: string, s: Size): Promise<void> {
  const random = mulberry32(0);
  const nodes = [newNode('Cast', ['hidden_states'], ['h0'], '/Cast', { to: DataType.FLOAT16 })];
  const inits: TensorProto[] = [];
  for (let b = 0; b < s.blocks; b++) {
    const p = `layers.${b}.mlp`;
    const w = (n: string) => `${p}.${n}.weight`;
    inits.push(fp16Weight(w('gate_proj'), [s.hidden, s.ffn], 1 / Math.sqrt(s.hidden), random));
    inits.push(fp16Weight(w('up_proj'), [s.hidden, s.ffn], 1 / Math.sqrt(s.hidden), random));
    inits.push(fp16Weight(w('down_proj'), [s.ffn, s.hidden], 0.5 / Math.sqrt(s.ffn), random));
    const at = (n: string) => `/layers.${b}/mlp/${n}`;
    nodes.push(
      newNode('MatMul', [`h${b}`, w('gate_proj')], [`g${b}`], at('gate_proj/MatMul')),
      newNode('MatMul', [`h${b}`, w('up_proj')], [`u${b}`], at('up_proj/MatMul')),
      newNode('Sigmoid', [`g${b}`], [`sg${b}`], at('act_fn/Sigmoid')),
      newNode('Mul', [`g${b}`, `sg${b}`], [`silu${b}`], at('act_fn/Mul')),
      newNode('Mul', [`silu${b}`, `u${b}`], [`gu${b}`], at('Mul')),
      newNode('MatMul', [`gu${b}`, w('down_proj')], [`d${b}`], at('down_proj/MatMul')),
      newNode('Add', [`h${b}`, `d${b}`], [`h${b + 1}`], `/layers.${b}/Add`),
    );
  }
  nodes.push(newNode('Cast', [`h${s.blocks}`], ['output'], '/Cast_1', { to: DataType.FLOAT }));
  const graph = newGraph('llm_mlp_stack', nodes, [newValueInfo('hidden_states', DataType.FLOAT, ['batch', 'sequence', s.hidden])],
    [newValueInfo('output', DataType.FLOAT, ['batch', 'sequence', s.hidden])], inits);
  await saveModel(new OnnxModel(newModel(graph, 17, 8), new Uint8Array(0)), file, { overwrite: true });
}

/** Wall seconds and peak RSS of one command, from /usr/bin/time. */
function timed(args: string[]): { seconds: number; peak: number } {
  const r = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %M', process.execPath, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  const m = /BENCH ([\d.]+) (\d+)/.exec(r.stderr);
  if (!m) throw new Error(`no timing in: ${r.stderr}`);
  return { seconds: Number(m[1]), peak: Number(m[2]) * 1024 };
}

/** Starts a prune, interrupts it (SIGINT, as Ctrl-C) once it is under way, and lists what is left in its folder. */
async function interrupted(cli: string, args: string[], dir: string): Promise<{ code: number | null; left: string[]; ms: number }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: 'ignore' });
  let asked = 0;
  const started = Date.now();
  // Progress goes to stderr only on a terminal, so there is nothing to wait for: interrupt after 3 s, well inside the calibration.
  const timer = setTimeout(() => { asked = Date.now(); child.kill('SIGINT'); }, 3000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  return { code, left: fs.readdirSync(dir), ms: asked ? Date.now() - asked : Date.now() - started };
}

export async function benchLlmPrune(cacheDir: string, cli: string): Promise<string[]> {
  const s = sizeFromEnv();
  const dir = path.join(cacheDir, 'llm');
  fs.mkdirSync(dir, { recursive: true });
  const model = path.join(dir, `mlp_stack_${s.blocks}x${s.hidden}x${s.ffn}_fp16.onnx`);
  if (!fs.existsSync(model)) await generate(model, s);
  const calibration = path.join(dir, `calibration_64x128x${s.hidden}.npy`);
  if (!fs.existsSync(calibration)) {
    const random = mulberry32(1);
    writeNpy(calibration, 'float32', [64, 128, s.hidden], Float32Array.from({ length: 64 * 128 * s.hidden }, () => random() * 2 - 1));
  }
  const lines = [`llm prune: wanda and sparsegpt 2:4 on a generated fp16 MLP stack, ${s.blocks} blocks of ${s.hidden}→${s.ffn}→${s.hidden} ` +
    `(${(fs.statSync(model).size / MB).toFixed(0)} MiB), 64 calibration sequences of 128; whole prune-lens process`];
  for (const method of ['wanda', 'sparsegpt']) {
    const out = path.join(dir, `out_${method}.onnx`);
    const t = timed([cli, 'prune', model, '--method', method, '--nm', '2:4', '--calibration', calibration, '--calibration-size', '64',
      '--layers', 'layers.*', '-o', out, '--force']);
    lines.push(`  ${method.padEnd(10)} 2:4   wall ${t.seconds.toFixed(1).padStart(7)} s   peak RSS ${(t.peak / MB).toFixed(0).padStart(6)} MiB`);
    fs.rmSync(out, { force: true });
    fs.rmSync(`${out}.report.json`, { force: true });
  }
  const cancelDir = path.join(dir, 'cancel');
  fs.rmSync(cancelDir, { recursive: true, force: true });
  fs.mkdirSync(cancelDir);
  const c = await interrupted(cli, ['prune', model, '--method', 'sparsegpt', '--nm', '2:4', '--calibration', calibration,
    '--layers', 'layers.*', '-o', path.join(cancelDir, 'out.onnx')], cancelDir);
  lines.push(`  sparsegpt interrupted after 3 s: exit ${c.code} ${c.ms} ms after SIGINT, files left: ${c.left.length ? c.left.join(', ') : 'none'} (must be none)`);
  return lines;
}
