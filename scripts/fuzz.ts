// The longer fuzz run: the generators of test/unit/onnx/fuzz.test.ts for as
// many cases or seconds as asked.
//
//   npx tsx scripts/fuzz.ts --cases 100000 --seed 7                       (bytes: parse, analyse, round trip)
//   npx tsx scripts/fuzz.ts --target pipeline --cases 100000 --seed 7     (the whole pipeline + onnxruntime)
//   npx tsx scripts/fuzz.ts --target all --cases 100000 --seed 7          (every target, this many cases each)
//   npx tsx scripts/fuzz.ts --seconds 600 --seed 3
//   npx tsx scripts/fuzz.ts --seed 7 --first 4711 --cases 1               (replay one case)
//   npx tsx scripts/fuzz.ts --kinds tree,length --cases 20000             (bytes: only these mutations)
//   npx tsx scripts/fuzz.ts --target pipeline --no-ort                    (skip the onnxruntime check)
//
// Targets: bytes, pipeline, plans, data, external, all. The bytes target stops
// at the first failure and writes its bytes to fuzz-failure-<seed>-<index>.onnx;
// the others count every failure (crash, hang, memory, onnxruntime rejection)
// by kind, print the first of each, and exit 1 if there was any.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatStats, fuzz, FuzzFailure, MUTATION_KINDS } from '../test/helpers/fuzz';
import { FILE_TARGETS, formatFileStats, fuzzFiles, type FileFailure, type FileTarget } from '../test/helpers/fuzzFiles';
import { formatPipelineStats, fuzzPipeline, type PipelineFailure } from '../test/helpers/fuzzPipeline';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) {
    process.stderr.write(`fuzz: --${name} needs a non-negative number\n`);
    process.exit(2);
  }
  return v;
}

const TARGETS = ['bytes', 'pipeline', ...FILE_TARGETS];
const seed = arg('seed', 1);
const seconds = arg('seconds', 0);
const cases = arg('cases', seconds ? Number.MAX_SAFE_INTEGER : 10000);
const first = arg('first', 0);
const targetArg = process.argv.indexOf('--target');
const target = targetArg >= 0 ? process.argv[targetArg + 1] ?? '' : 'bytes';
if (target !== 'all' && !TARGETS.includes(target)) {
  process.stderr.write(`fuzz: --target is one of ${TARGETS.join(', ')}, all\n`);
  process.exit(2);
}
const kindsArg = process.argv.indexOf('--kinds');
const kinds = kindsArg >= 0 ? (process.argv[kindsArg + 1] ?? '').split(',') : undefined;
if (kinds?.some((k) => !MUTATION_KINDS.includes(k))) {
  process.stderr.write(`fuzz: --kinds takes a comma-separated list of ${MUTATION_KINDS.join(', ')}\n`);
  process.exit(2);
}
const ort = !process.argv.includes('--no-ort');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-fuzz-'));

/** Prints the first failure of each kind (by what and the first line of its cause) and counts them all. */
function failurePrinter(): (f: PipelineFailure | FileFailure) => void {
  const seen = new Set<string>();
  return (f) => {
    const cause = f.cause instanceof Error ? f.cause.message : String(f.cause);
    const key = `${f.what}: ${cause.split('\n')[0].replace(/\d+/g, 'N').slice(0, 120)}`;
    if (seen.has(key)) return;
    seen.add(key);
    process.stderr.write('\n');
    console.error(`FAILED: ${f.message}`);
  };
}

function runBytes(): boolean {
  try {
    const stats = fuzz({
      seed, cases, first, dir, kinds, seconds: seconds || undefined,
      onProgress: (s) => {
        if (s.cases % 4096 < 64) process.stderr.write(`\r${formatStats(s)}`);
      },
    });
    process.stderr.write('\n');
    console.log(formatStats(stats));
    return true;
  } catch (e) {
    process.stderr.write('\n');
    if (!(e instanceof FuzzFailure)) throw e;
    const out = path.resolve(`fuzz-failure-${seed}-${e.fuzzCase.index}.onnx`);
    fs.writeFileSync(out, e.fuzzCase.bytes);
    console.error(`FAILED: ${e.message}\nbytes: ${out}`);
    return false;
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  let ok = true;
  for (const t of target === 'all' ? TARGETS : [target]) {
    const t0 = Date.now();
    if (t === 'bytes') ok = runBytes() && ok;
    else if (t === 'pipeline') {
      const stats = await fuzzPipeline({
        seed, cases, first, seconds: seconds || undefined, file: path.join(dir, 'case.onnx'), ort, caseBudgetMs: 10_000,
        onFailure: failurePrinter(),
        onProgress: (s) => {
          if (s.cases % 1024 < 32) process.stderr.write(`\r${s.cases} cases, ${Object.values(s.failures).reduce((a, b) => a + b, 0)} failures`);
        },
      });
      process.stderr.write('\n');
      console.log(formatPipelineStats(stats));
      ok = ok && Object.keys(stats.failures).length === 0;
    } else {
      const stats = await fuzzFiles({
        target: t as FileTarget, seed, cases, first, seconds: seconds || undefined, dir: path.join(dir, t), onFailure: failurePrinter(),
      });
      console.log(formatFileStats(stats));
      ok = ok && Object.keys(stats.failures).length === 0;
    }
    console.log(`  (${t}: seed ${seed}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  console.log(`fuzz: ${ok ? 'no failures' : 'FAILURES (see above)'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (!ok) process.exitCode = 1;
}

main().finally(() => fs.rmSync(dir, { recursive: true, force: true }));
