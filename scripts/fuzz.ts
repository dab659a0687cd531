// The longer fuzz run: the generator of test/unit/onnx/fuzz.test.ts for as
// many cases or seconds as asked.
//
//   npx tsx scripts/fuzz.ts --cases 100000 --seed 7
//   npx tsx scripts/fuzz.ts --seconds 600 --seed 3
//   npx tsx scripts/fuzz.ts --seed 7 --first 4711 --cases 1     (replay one case)
//   npx tsx scripts/fuzz.ts --kinds tree,length --cases 20000   (only these mutations)
//
// On a failure it prints the case (seed, index, mutation) and writes its bytes
// to fuzz-failure-<seed>-<index>.onnx in the current folder, then exits 1.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatStats, fuzz, FuzzFailure, MUTATION_KINDS } from '../test/helpers/fuzz';

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

const seed = arg('seed', 1);
const seconds = arg('seconds', 0);
const cases = arg('cases', seconds ? Number.MAX_SAFE_INTEGER : 10000);
const first = arg('first', 0);
const kindsArg = process.argv.indexOf('--kinds');
const kinds = kindsArg >= 0 ? (process.argv[kindsArg + 1] ?? '').split(',') : undefined;
if (kinds?.some((k) => !MUTATION_KINDS.includes(k))) {
  process.stderr.write(`fuzz: --kinds takes a comma-separated list of ${MUTATION_KINDS.join(', ')}\n`);
  process.exit(2);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-fuzz-'));
const started = Date.now();
try {
  const stats = fuzz({
    seed, cases, first, dir, kinds, seconds: seconds || undefined,
    onProgress: (s) => {
      if (s.cases % 4096 < 64) process.stderr.write(`\r${formatStats(s)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    },
  });
  process.stderr.write('\n');
  console.log(`${formatStats(stats)}; seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (e) {
  process.stderr.write('\n');
  if (!(e instanceof FuzzFailure)) throw e;
  const out = path.resolve(`fuzz-failure-${seed}-${e.fuzzCase.index}.onnx`);
  fs.writeFileSync(out, e.fuzzCase.bytes);
  console.error(`FAILED: ${e.message}\nbytes: ${out}`);
  process.exitCode = 1;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
