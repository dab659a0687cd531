// Fuzzing in the normal run: thousands of random and mutated models, seeded
// and deterministic. Every one must parse, or fail with a PruneLensError that
// names the file; parsed ones must analyse (or fail the same way) and
// round-trip losslessly. No hang, no crash, no absurd allocation.
// Then the whole pipeline on mutated models that parse (analysis, dependency
// graph, every criterion, selection, apply, the writer, onnxruntime on the
// output), and the other files a user hands the tool: plans, .npy/.npz data and
// external-data references.
// `npx tsx scripts/fuzz.ts --target all --cases 100000 --seed 7` runs the same generators longer.

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { criterionNames } from '../../../src/pruning/structured';
import { formatStats, fuzz } from '../../helpers/fuzz';
import { formatFileStats, fuzzFiles, type FileTarget } from '../../helpers/fuzzFiles';
import { formatPipelineStats, fuzzPipeline, loadPipelineSeeds, makePipelineCase, OrtChecker, runPipelineCase } from '../../helpers/fuzzPipeline';
import { tempDir } from '../../helpers/models';

const CASES = 4000;
const SEED = 20240;
const PIPELINE_CASES = 1500;
const FILE_CASES: Record<FileTarget, number> = { plans: 1000, data: 1000, external: 600 };

describe('onnx fuzz', () => {
  it(`${CASES} random and mutated models: only PruneLensErrors, lossless when parsed`, function () {
    this.timeout(120_000);
    const stats = fuzz({ seed: SEED, cases: CASES, dir: tempDir('fuzz'), caseBudgetMs: 3000, rssBudget: 1024 * 2 ** 20 });
    console.log(`      ${formatStats(stats)}`);
    assert.equal(stats.cases, CASES);
    // The generator must reach both sides: models that parse (and analyse), and rejections.
    assert.ok(stats.parsed > CASES * 0.1, `only ${stats.parsed} cases parsed`);
    assert.ok(stats.analyzed > CASES * 0.05, `only ${stats.analyzed} cases analysed`);
    assert.ok(stats.rejected > CASES * 0.3, `only ${stats.rejected} cases rejected`);
    for (const code of ['truncated', 'malformed']) assert.ok(stats.codes[code] > 0, `no ${code} errors`);
  });

  it(`${PIPELINE_CASES} mutated models through the whole pipeline: refused with a PruneLensError, or pruned into a model onnxruntime loads`, async function () {
    this.timeout(600_000);
    const dir = tempDir('fuzz-pipeline');
    const stats = await fuzzPipeline({ seed: SEED, cases: PIPELINE_CASES, file: path.join(dir, 'case.onnx'), caseBudgetMs: 20_000 });
    console.log(`      ${formatPipelineStats(stats)}`);
    assert.equal(stats.cases, PIPELINE_CASES);
    assert.deepEqual(stats.failures, {});
    // Every seed model came up, and the cases reach every stage: refusals in analysis and in the graph, and outputs.
    for (const s of loadPipelineSeeds()) assert.ok(stats.bySource[s.name] > 0, `no case of ${s.name}`);
    for (const stage of ['analysis', 'depgraph', 'pruned']) assert.ok(stats.byStage[stage] > 0, `no case ended at ${stage}`);
    assert.ok(stats.byStage.pruned > PIPELINE_CASES * 0.4, `only ${stats.byStage.pruned} cases pruned`);
    assert.ok(stats.changed > PIPELINE_CASES * 0.2, `only ${stats.changed} outputs changed`);
    // The differential check ran on a real share of them.
    assert.ok(stats.ortChecked > PIPELINE_CASES * 0.15, `only ${stats.ortChecked} outputs checked in onnxruntime`);
    for (const c of criterionNames()) assert.ok(stats.prunedBy[c] > 0, `criterion ${c} never pruned a case`);
    assert.ok(stats.codes.limit > 0, 'no absurd declared size was refused');
  });

  // Cases that failed a long `scripts/fuzz.ts --target pipeline` run, replayed: each must now be refused with a
  // PruneLensError or pruned into a model onnxruntime loads. [seed, case, what it was].
  const REPLAYS: [number, number, string][] = [
    [17, 1097, 'yolov8_dyn at height 1: Concat of 2 and 1 rows, which onnxruntime saw only once the pruned Slices were constants'],
    [17, 5692, 'digits_lenet with fc1.bias twice: one copy pruned'],
    [17, 13406, 'digits_resnet_slim with layer1.bn1.running_mean twice: one copy pruned'],
    [17, 11001, 'shufflenet_dyn with a chunk of -2: an empty half that a Conv of 48 inputs reads'],
    [17, 12395, 'digits_vit with a shape vector of 500M entries: a RangeError in the analysis'],
    [101, 7262, 'yolov8_dyn at height 7: Concat of 2 and 1 rows behind an input of unknown size'],
    [101, 11502, 'digits_vit with Gather index 7 into a shape of 3: read as an unknown dim'],
    [101, 54939, 'digits_vit with the batch read from the hidden size (Gather -1) into the cls token Expand'],
    [101, 66806, 'digits_vit with a Concat node twice: the cut rewrote one of them'],
    [101, 33955, 'digits_vit with the attention batch read from the hidden size (Gather 2) into a Reshape target'],
    [101, 33969, 'lm_gpt_licenses with the attention batch read from the hidden size (Gather -1): the logits lost rows'],
    [101, 31429, 'a yolov8-c2f fixture with no opset for the default domain: Split sizes written as an attribute'],
    [303, 9436, 'shufflenet_dyn with a member label outside the group array: a TypeError describing groups'],
    [303, 41591, 'grouped-convtranspose-prelu with a float constant where a Slice bound belongs: a fractional bound'],
    [303, 89373, 'yolov8_dyn with an input height declared 2^53: inferred sizes no longer exact'],
  ];
  it(`${REPLAYS.length} cases that failed long runs replay clean`, async function () {
    this.timeout(120_000);
    const seeds = loadPipelineSeeds();
    const file = path.join(tempDir('fuzz-replay'), 'case.onnx');
    const ort = new OrtChecker();
    try {
      for (const [seed, index, what] of REPLAYS) {
        // runPipelineCase throws a PipelineFailure on anything else.
        await runPipelineCase(makePipelineCase(seed, index, seeds), file, { ort }).catch((e: Error) => {
          throw new Error(`${what}: ${e.message}`);
        });
      }
    } finally {
      ort.dispose();
    }
  });

  for (const target of Object.keys(FILE_CASES) as FileTarget[]) {
    it(`${FILE_CASES[target]} mutated ${target === 'data' ? '.npy/.npz files' : target === 'plans' ? 'plan files' : 'external-data references'}: read, or refused with a PruneLensError naming the file`, async function () {
      this.timeout(300_000);
      const stats = await fuzzFiles({ target, seed: SEED, cases: FILE_CASES[target], dir: tempDir(`fuzz-${target}`) });
      console.log(`      ${formatFileStats(stats)}`);
      assert.equal(stats.cases, FILE_CASES[target]);
      assert.deepEqual(stats.failures, {});
      // Both sides: some cases are read (or run) through, and some refused.
      assert.ok(stats.codes.ok > 0, `no ${target} case went through`);
      const refusals = stats.cases - stats.codes.ok;
      assert.ok(refusals > stats.cases * 0.2, `only ${refusals} ${target} cases refused`);
      if (target === 'external') assert.ok(stats.codes['external-data'] > 0, 'no unsafe or broken reference was refused');
    });
  }
});
