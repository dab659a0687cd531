// Plan files checked without a model: JSON syntax with line and column, unknown
// keys, option/method combinations, and the shipped JSON schema agreeing with
// the code.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { amountRule, explainAmount, parsePlanText, prunedCount, validatePlan, LAYER_KINDS, PLAN_KEYS, STEP_KEYS } from '../../../../src/pruning/plan';
import { METHODS } from '../../../../src/pruning/methods';
import { GRANULARITIES } from '../../../../src/pruning/unstructured';

const SCHEMA = path.resolve(__dirname, '..', '..', '..', '..', 'schemas', 'prune-plan.schema.json');

function errorsOf(plan: unknown): string[] {
  return validatePlan(plan).filter((i) => i.severity === 'error').map((i) => i.message);
}

describe('plan: parsing and validation', () => {
  it('a good plan parses', () => {
    const plan = parsePlanText(JSON.stringify({
      version: 1, output: '{name}.sparse.onnx',
      steps: [
        { method: 'l1', scope: 'global', amount: 0.2, ops: ['Conv', 'Gemm'] },
        { method: 'nm', nm: '2:4', layers: ['fc*'], ignore: ['fc3'] },
        { method: 'l2', granularity: 'filter', count: 2, round_to: 4, bias: true },
      ],
    }), 'good.prune.json');
    assert.equal(plan.steps.length, 3);
  });

  it('JSON syntax errors give the file, line and column', () => {
    const text = '{\n  "steps": [\n    { "method": "l1", "amount": 0.5 }\n    { "method": "l2" }\n  ]\n}';
    assert.throws(() => parsePlanText(text, 'bad.prune.json'), (e: Error) => {
      assert.match(e.message, /^bad\.prune\.json: invalid JSON at line 4, column 5: expected a comma/);
      return true;
    });
    assert.throws(() => parsePlanText('{"steps": [}', 'x.prune.json'), /line 1, column 12/);
    assert.throws(() => parsePlanText('{"steps": [] // note\n}', 'x.prune.json'), /comments are not allowed/);
    assert.throws(() => parsePlanText('', 'x.prune.json'), /invalid JSON at line 1, column 1/);
  });

  it('an old spelling of a method is a warning on that method, and is checked as the current word', () => {
    const issues = validatePlan({ steps: [{ method: 'l1', amount: 0.1 }, { method: 'gamma', structured: true, amount: 0.5 }] });
    assert.deepEqual(issues.map((i) => [i.severity, i.path]), [['warning', ['steps', 1, 'method']]]);
    assert.match(issues[0].message, /^step 2: method "gamma" is the old spelling of "bn-gamma"/);
    // Checked as bn-gamma: unstructured, it ranks whole filters.
    assert.deepEqual(errorsOf({ steps: [{ method: 'bn_gamma', amount: 0.5 }] }), ['step 1: bn-gamma ranks whole filters: use granularity "filter" (or structured: true)']);
    assert.equal(parsePlanText(JSON.stringify({ steps: [{ method: 'gamma', structured: true, amount: 0.5 }] }), 'old.prune.json').steps.length, 1);
  });

  it('unknown keys are named, with a suggestion for typos', () => {
    assert.deepEqual(errorsOf({ steps: [{ method: 'l1', amout: 0.5 }] }).slice(0, 1), ['step 1: unknown step option "amout" (did you mean "amount"?)']);
    assert.match(errorsOf({ step: [] })[0], /unknown plan option "step" \(did you mean "steps"\?\)/);
  });

  it('each method gets the options it needs and only those', () => {
    const cases: [unknown, RegExp][] = [
      [{ method: 'l1' }, /method l1 needs exactly one of "amount" \(a fraction\) or "count"/],
      [{ method: 'l1', amount: 0.5, count: 3 }, /exactly one of "amount"/],
      [{ method: 'l1', amount: 1.5 }, /"amount" must be a fraction in \[0, 1\]; use "count"/],
      [{ method: 'l1', count: 2.5 }, /"count" must be a non-negative integer/],
      [{ method: 'threshold' }, /method threshold needs "threshold"/],
      [{ method: 'threshold', threshold: 0.1, amount: 0.2 }, /"amount" does not apply to method threshold/],
      [{ method: 'nm', nm: '4:2' }, /N must be at most M/],
      [{ method: 'nm', nm: '2-4' }, /"nm" is written "N:M"/],
      [{ method: 'nm', nm: '2:4', granularity: 'filter' }, /N:M sparsity works on single weights/],
      [{ method: 'custom', amount: 0.1 }, /method custom needs exactly one of "mask" or "importance"/],
      [{ method: 'custom', mask: 'm.npy', amount: 0.1 }, /"amount" does not apply to method custom with a mask/],
      [{ method: 'bn-gamma', amount: 0.5 }, /bn-gamma ranks whole filters/],
      [{ method: 'l1', amount: 0.5, round_to: 8 }, /"round_to" needs structured: true or granularity "filter"\/"channel"/],
      [{ method: 'l1', amount: 0.5, seed: 3 }, /"seed" is only for method "random"/],
      [{ method: 'nm', nm: '2:4', structured: true }, /structured steps rank channels by l1, l2, random, bn-gamma/],
      [{ method: 'l1', amount: 0.5, ops: ['Relu'] }, /op "Relu" is not a prunable op type/],
      [{ method: 'l1', amount: 0.5, layers: 'conv1' }, /"layers" must be a list of non-empty strings/],
      [{ method: 'magnitude', amount: 0.5 }, /method "magnitude" is not known \(one of l1, l2/],
      [{ amount: 0.5 }, /"method" is missing/],
    ];
    for (const [step, re] of cases) {
      const errs = errorsOf({ steps: [{ method: 'l1', amount: 0.1 }, step] });
      assert.ok(errs.some((e) => re.test(e) && e.startsWith('step 2: ')), `${JSON.stringify(step)} → ${errs.join(' | ') || 'no error'}`);
    }
  });

  it('a structured step with amount 1 is refused at its "amount" (the engine keeps a channel per group); masks take 1', () => {
    const issues = validatePlan({ steps: [{ method: 'l1', structured: true, amount: 1 }] });
    assert.equal(issues.length, 1);
    assert.deepEqual(issues[0].path, ['steps', 0, 'amount']);
    assert.match(issues[0].message, /^step 1: "amount": 1 would remove every channel; a structured step keeps floor\(n × \(1 − amount\)\)/);
    assert.deepEqual(validatePlan({ steps: [{ method: 'l1', amount: 1 }] }), []);
    assert.deepEqual(validatePlan({ steps: [{ method: 'l1', structured: true, amount: 0.99 }] }), []);
    assert.throws(() => parsePlanText('{"steps":[{"method":"l2","structured":true,"amount":1}]}', 'all.prune.json'), /all\.prune\.json: step 1: "amount": 1 would remove every channel/);
  });

  it('errors carry the JSON path of the offending value (for editor diagnostics)', () => {
    const issues = validatePlan({ steps: [{ method: 'l1', amount: 0.2 }, { method: 'l1', amount: 2 }] });
    assert.deepEqual(issues.map((i) => i.path), [['steps', 1, 'amount']]);
    assert.equal(issues[0].step, 1);
  });

  it('a plan with no steps, or not an object, is refused', () => {
    assert.match(errorsOf({ steps: [] })[0], /"steps" is empty/);
    assert.match(errorsOf([])[0], /a plan is a JSON object/);
    assert.throws(() => parsePlanText('{"steps": []}', 'empty.prune.json'), /: empty\.prune\.json: "steps" is empty/);
  });

  it('recovery and data-aware methods go on structured steps with calibration data', () => {
    const ok = { method: 'wanda', structured: true, amount: 0.5, calibration: { data: 'x.npy', size: 128 }, recovery: { method: 'least-squares', ridge: 0.01, bnRecalibration: false } };
    assert.deepEqual(validatePlan({ steps: [ok] }), []);
    assert.match(errorsOf({ steps: [{ ...ok, calibration: undefined }] }).join('\n'), /needs calibration data/);
    assert.match(errorsOf({ steps: [{ ...ok, method: 'l1', structured: false }] }).join('\n'), /recovery repairs structured steps/);
    assert.match(errorsOf({ steps: [{ ...ok, recovery: { method: 'least-squares', ridge: -1 } }] })[0], /"recovery.ridge" must be a number >= 0/);
  });
});

describe('plan: the shipped JSON schema agrees with the code', () => {
  const schema = JSON.parse(fs.readFileSync(SCHEMA, 'utf8'));
  const step = schema.definitions.step;

  it('lists the same step options, methods, op types and granularities', () => {
    assert.deepEqual(Object.keys(step.properties).sort(), [...STEP_KEYS].sort());
    assert.deepEqual(Object.keys(schema.properties).sort(), [...PLAN_KEYS].sort());
    assert.deepEqual(step.properties.method.enum, [...METHODS]);
    assert.equal(step.properties.method.enumDescriptions.length, METHODS.length);
    assert.deepEqual(step.properties.ops.items.enum, [...LAYER_KINDS]);
    assert.deepEqual(step.properties.granularity.enum, [...GRANULARITIES]);
    assert.equal(step.additionalProperties, false);
    assert.equal(schema.additionalProperties, false);
  });

  it('describes every option for hovers', () => {
    for (const [k, v] of Object.entries(step.properties as Record<string, { description?: string }>)) {
      assert.ok(v.description && v.description.length > 10, `step.${k} has no description`);
    }
    for (const [k, v] of Object.entries(schema.properties as Record<string, { description?: string }>)) {
      assert.ok(v.description, `${k} has no description`);
    }
  });
});

describe('plan: what "amount" means', () => {
  it('masks round like torch (halves to even), channels keep floor(n × (1 − amount)) like Torch-Pruning', () => {
    // The issue's example: n = 10, amount 0.25.
    assert.equal(prunedCount(10, 0.25, false), 2);
    assert.equal(prunedCount(10, 0.25, true), 3);
    assert.equal(prunedCount(10, 0.05, false), 0); // round(0.5) = 0
    assert.equal(prunedCount(10, 0.15, false), 2); // round(1.5) = 2
    assert.equal(prunedCount(64, 0.5, true), 32);
    assert.equal(prunedCount(3, 0.5, true), 2); // keeps floor(1.5) = 1
  });

  it('the schema, the hover text and the CLI help state both rules', () => {
    const schema = JSON.parse(fs.readFileSync(SCHEMA, 'utf8'));
    const text: string = schema.definitions.step.properties.amount.description;
    assert.match(text, /torch\.nn\.utils\.prune: round\(amount × n\)/);
    assert.match(text, /Torch-Pruning: a group of n channels keeps floor\(n × \(1 − amount\)\)/);
    assert.match(text, /n = 10 and amount 0\.25, a structured step removes 3 channels, a mask zeroes 2 weights/);
    const bound = schema.definitions.step.allOf.find((c: { if?: { properties?: { structured?: unknown } } }) => c.if?.properties?.structured);
    assert.deepEqual(bound.then.properties.amount, { exclusiveMaximum: 1 });
    assert.match(explainAmount(0.25, true), /^Structured steps follow Torch-Pruning.*n = 10: 3 channels removed.*as a mask it would be 2 of 10/);
    assert.match(explainAmount(0.25, false), /^Masks follow torch\.nn\.utils\.prune.*n = 10: 2 zeroed.*as a structured step it would be 3 of 10/);
    const cli = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', '..', 'src', 'cli', 'prune.ts'), 'utf8');
    assert.match(cli, /amountRule\(false\)[\s\S]*amountRule\(true\)/);
    assert.match(amountRule(true), /must be below 1/);
  });
});
