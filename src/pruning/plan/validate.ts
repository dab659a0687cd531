// Reading and checking a plan file without a model: JSON syntax (with line and
// column), unknown keys (with a suggestion), types, ranges, and which options
// go with which method. Checks that need the model (do the layers exist, do
// mask shapes fit) are in resolve.ts.

import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { PruneLensError } from '../../onnx/errors';
import { GRANULARITIES } from '../unstructured/units';
import { CALIBRATED_MASK_METHODS, DATA_AWARE_METHODS, isOneOf, METHODS, readMethod, RECOVERY_METHODS, STRUCTURED_METHODS } from '../methods';
import { LAYER_KINDS, NORMALIZERS, type PlanIssue, type PlanStep, type PrunePlan } from './types';
import { editDistance } from '../match';

/** The keys a plan and a step may have (the JSON schema lists the same). */
export const PLAN_KEYS = ['$schema', 'version', 'description', 'output', 'steps'];
export const STEP_KEYS = [
  'name', 'method', 'structured', 'layers', 'ops', 'ignore', 'scope', 'amount', 'count', 'threshold', 'granularity',
  'nm', 'seed', 'bias', 'round_to', 'max_ratio', 'normalizer', 'mask', 'importance', 'calibration', 'recovery',
];

/** Parses plan text; throws a 'plan' error naming the file, with line:column for syntax errors. */
export function parsePlanText(text: string, file: string): PrunePlan {
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length) {
    const e = errors[0];
    const { line, column } = lineColumn(text, e.offset);
    throw new PruneLensError('plan', `invalid JSON at line ${line}, column ${column}: ${syntaxWords(e.error)}`, {}, file);
  }
  const issues = validatePlan(value);
  const errs = issues.filter((i) => i.severity === 'error');
  if (errs.length) {
    const more = errs.length > 1 ? ` (and ${errs.length - 1} more: ${errs.slice(1, 4).map((i) => i.message).join('; ')})` : '';
    throw new PruneLensError('plan', `${errs[0].message}${more}`, {}, file);
  }
  return value as PrunePlan;
}

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

function syntaxWords(code: number): string {
  const name = printParseErrorCode(code);
  const words: Record<string, string> = {
    InvalidSymbol: 'unexpected character', InvalidNumberFormat: 'malformed number', PropertyNameExpected: 'expected a "quoted" property name',
    ValueExpected: 'expected a value', ColonExpected: 'expected a colon', CommaExpected: 'expected a comma',
    CloseBraceExpected: 'expected }', CloseBracketExpected: 'expected ]', EndOfFileExpected: 'unexpected text after the end',
    InvalidCommentToken: 'comments are not allowed in plan files', UnexpectedEndOfComment: 'unterminated comment',
    UnexpectedEndOfString: 'unterminated string', UnexpectedEndOfNumber: 'unterminated number',
    InvalidUnicode: 'invalid \\u escape', InvalidEscapeCharacter: 'invalid escape character', InvalidCharacter: 'invalid character in string',
  };
  return words[name] ?? name;
}

/** All problems of a parsed plan value; an empty list means it can run (given a model it fits). */
export function validatePlan(value: unknown): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const err = (path: (string | number)[], message: string, step?: number) =>
    issues.push({ severity: 'error', message: step === undefined ? message : `step ${step + 1}: ${message}`, step, path });
  if (!isObject(value)) {
    err([], 'a plan is a JSON object with a "steps" list');
    return issues;
  }
  unknownKeys(value, PLAN_KEYS, [], 'plan', err);
  if (value.version !== undefined && value.version !== 1) err(['version'], `version ${JSON.stringify(value.version)} is not known (this tool reads version 1)`);
  if (value.output !== undefined && (typeof value.output !== 'string' || !value.output.trim())) err(['output'], '"output" must be a non-empty file name pattern');
  if (!Array.isArray(value.steps)) {
    err(['steps'], value.steps === undefined ? 'the plan has no "steps" list' : '"steps" must be a list');
    return issues;
  }
  if (value.steps.length === 0) err(['steps'], '"steps" is empty; a plan needs at least one step');
  value.steps.forEach((s, i) => validateStep(s, i, issues));
  return issues;
}

type Err = (path: (string | number)[], message: string, step?: number) => void;

function validateStep(raw: unknown, i: number, issues: PlanIssue[]): void {
  const at = (k: string | number, ...rest: (string | number)[]) => ['steps', i, k, ...rest];
  const err = (path: (string | number)[], message: string) =>
    issues.push({ severity: 'error', message: `step ${i + 1}: ${message}`, step: i, path });
  const warn = (path: (string | number)[], message: string) =>
    issues.push({ severity: 'warning', message: `step ${i + 1}: ${message}`, step: i, path });
  if (!isObject(raw)) {
    err(['steps', i], 'a step is an object with at least a "method"');
    return;
  }
  unknownKeys(raw, STEP_KEYS, ['steps', i], 'step', (p, m) => err(p, m));

  if (raw.name !== undefined && typeof raw.name !== 'string') err(at('name'), '"name" must be a string');
  if (raw.method === undefined) {
    err(['steps', i], `"method" is missing (one of ${METHODS.join(', ')})`);
    return;
  }
  const word = readMethod(raw.method);
  if (!word) {
    err(at('method'), `method ${JSON.stringify(raw.method)} is not known (one of ${METHODS.join(', ')})`);
    return;
  }
  if (word.deprecated) warn(at('method'), word.deprecated);
  // The checks below read the method in its current spelling.
  const s = { ...raw, method: word.method } as PlanStep & Record<string, unknown>;
  checkType(s, 'structured', 'boolean', at, err);
  checkType(s, 'bias', 'boolean', at, err);
  stringList(s, 'layers', at, err);
  stringList(s, 'ignore', at, err);
  if (stringList(s, 'ops', at, err) && s.ops) {
    s.ops.forEach((op, j) => {
      if (!LAYER_KINDS.includes(op)) err(at('ops', j), `op ${JSON.stringify(op)} is not a prunable op type (${LAYER_KINDS.join(', ')})`);
    });
  }
  if (s.scope !== undefined && s.scope !== 'local' && s.scope !== 'global') err(at('scope'), '"scope" is "local" or "global"');
  if (s.granularity !== undefined && !GRANULARITIES.includes(s.granularity)) {
    err(at('granularity'), `granularity ${JSON.stringify(s.granularity)} is not known (one of ${GRANULARITIES.join(', ')})`);
  }
  const num = (k: keyof PlanStep, ok: (v: number) => boolean, what: string) => {
    const v = s[k];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) err(at(k), `"${k}" must be ${what} (got ${JSON.stringify(v)})`);
  };
  num('amount', (v) => v >= 0 && v <= 1, 'a fraction in [0, 1]; use "count" for a number of weights or channels');
  num('count', (v) => Number.isSafeInteger(v) && v >= 0, 'a non-negative integer');
  num('threshold', (v) => v >= 0, 'a number >= 0');
  num('seed', (v) => Number.isSafeInteger(v) && v >= 0 && v < 2 ** 32, 'an integer in [0, 2^32)');
  num('round_to', (v) => Number.isSafeInteger(v) && v >= 1, 'a positive integer');
  num('max_ratio', (v) => v >= 0 && v <= 1, 'a fraction in [0, 1]');
  if (s.normalizer !== undefined && !NORMALIZERS.includes(s.normalizer)) {
    err(at('normalizer'), `normalizer ${JSON.stringify(s.normalizer)} is not known (one of ${NORMALIZERS.join(', ')})`);
  }
  if (s.nm !== undefined) {
    const nm = typeof s.nm === 'string' ? /^(\d+):(\d+)$/.exec(s.nm) : null;
    if (!nm) err(at('nm'), `"nm" is written "N:M", for example "2:4" (got ${JSON.stringify(s.nm)})`);
    else if (+nm[2] < 1 || +nm[1] > +nm[2]) err(at('nm'), `"nm" ${s.nm}: N must be at most M, and M at least 1`);
  }
  for (const k of ['mask', 'importance'] as const) {
    const v = s[k];
    if (v === undefined) continue;
    const ok = (typeof v === 'string' && v.length > 0) || (isObject(v) && Object.values(v).every((f) => typeof f === 'string' && f.length > 0));
    if (!ok) err(at(k), `"${k}" is a .npy file path, or an object mapping layer names to .npy file paths`);
  }
  if (s.calibration !== undefined) {
    const c = s.calibration;
    if (!isObject(c) || typeof c.data !== 'string' || !c.data) err(at('calibration'), '"calibration" is an object with a "data" file');
    else {
      for (const k of ['size', 'batch']) {
        if (c[k] !== undefined && !(Number.isSafeInteger(c[k]) && (c[k] as number) >= 1)) err([...at('calibration'), k], `"calibration.${k}" must be a positive integer (got ${JSON.stringify(c[k])})`);
      }
      for (const k of Object.keys(c)) if (!['data', 'size', 'batch'].includes(k)) err([...at('calibration'), k], `"calibration" has no option "${k}" (data, size, batch)`);
    }
  }
  if (s.recovery !== undefined) {
    const r = s.recovery;
    if (!isObject(r) || !isOneOf(RECOVERY_METHODS, r.method)) {
      err(at('recovery'), '"recovery" is an object with "method": "least-squares", "bn-recalibration" or "none"');
    } else {
      if (r.ridge !== undefined && !(typeof r.ridge === 'number' && Number.isFinite(r.ridge) && r.ridge >= 0)) err([...at('recovery'), 'ridge'], `"recovery.ridge" must be a number >= 0 (got ${JSON.stringify(r.ridge)})`);
      if (r.bnRecalibration !== undefined && typeof r.bnRecalibration !== 'boolean') err([...at('recovery'), 'bnRecalibration'], '"recovery.bnRecalibration" is true or false');
      for (const k of Object.keys(r)) if (!['method', 'ridge', 'bnRecalibration'].includes(k)) err([...at('recovery'), k], `"recovery" has no option "${k}" (method, ridge, bnRecalibration)`);
      if (r.method !== 'none' && s.calibration === undefined) err(at('recovery'), 'recovery needs calibration data: add "calibration": { "data": ... } to the step');
      if (r.method !== 'none' && s.structured !== true) err(at('recovery'), 'recovery repairs structured steps; add "structured": true');
    }
  }
  const calibratedMask = isOneOf(CALIBRATED_MASK_METHODS, s.method) && s.structured !== true;
  if (isOneOf(DATA_AWARE_METHODS, s.method) && !calibratedMask && s.structured !== true) {
    err(at('method'), `method ${s.method} ranks channels; it needs "structured": true`);
  }
  if ((isOneOf(DATA_AWARE_METHODS, s.method) || calibratedMask) && s.calibration === undefined) {
    err(at('calibration'), `method ${s.method} ${calibratedMask ? 'measures each layer\'s inputs' : 'ranks channels by their activations'}; add "calibration": { "data": ... } to the step`);
  }
  checkCombination(s as PlanStep, at, err);
}

/** Which options go with which method; one message per conflict. */
function checkCombination(s: PlanStep, at: (k: string) => (string | number)[], err: Err): void {
  const has = (k: keyof PlanStep) => s[k] !== undefined;
  const granularity = s.granularity ?? 'element';
  const only = (k: keyof PlanStep, allowed: boolean, why: string) => {
    if (has(k) && !allowed) err(at(k), `"${k}" ${why}`);
  };
  if (s.structured) {
    if (!isOneOf(STRUCTURED_METHODS, s.method)) {
      err(at('method'), `structured steps rank channels by ${STRUCTURED_METHODS.join(', ')}; ${s.method} works only on masks (structured: false)`);
    }
    only('granularity', false, 'applies to masks only; structured steps always remove whole channels');
    only('count', false, 'is for masks; structured steps take "amount", a fraction of channels');
    only('bias', false, 'is for masks; structured steps always remove the biases of removed channels');
    // Torch-Pruning's keep rule, floor(n·(1 − amount)), keeps nothing at 1; the engine refuses it, so refuse it here.
    if (s.amount === 1) err(at('amount'), '"amount": 1 would remove every channel; a structured step keeps floor(n × (1 − amount)) channels of each group, so amount must be below 1');
  }
  only('normalizer', !!s.structured, 'rescales channel scores per layer for structured steps; add "structured": true');
  // wanda and sparsegpt zeroing weights: a sparsity (amount) or a pattern (nm), per layer, one weight at a time.
  const calibratedMask = isOneOf(CALIBRATED_MASK_METHODS, s.method) && s.structured !== true;
  only('nm', s.method === 'nm' || calibratedMask, 'is only for method "nm", and for wanda and sparsegpt without "structured"');
  only('threshold', s.method === 'threshold', 'is only for method "threshold"');
  only('mask', s.method === 'custom', 'is only for method "custom"');
  only('importance', s.method === 'custom', 'is only for method "custom"');
  only('seed', s.method === 'random', 'is only for method "random"');
  only('round_to', !!s.structured || granularity === 'filter' || granularity === 'channel',
    'needs structured: true or granularity "filter"/"channel" (there are no channels to round at element granularity)');

  // The methods that rank channels rank weights too; custom ranks by a given importance.
  const ranked = (isOneOf(STRUCTURED_METHODS, s.method) && !calibratedMask) || (s.method === 'custom' && has('importance'));
  if (calibratedMask) {
    if (has('amount') === has('nm')) err(at(has('amount') ? 'nm' : 'method'), `method ${s.method} needs exactly one of "amount" (the sparsity of each layer) or "nm" (for example "2:4")`);
    only('count', false, `does not apply to method ${s.method}; give "amount", a fraction of each layer's weights`);
    only('max_ratio', false, `does not apply to method ${s.method}; every layer gets the same sparsity`);
    only('bias', false, `does not apply to method ${s.method}; it prunes weights, not biases`);
    if (s.scope === 'global') err(at('scope'), `method ${s.method} prunes each layer on its own (as the reference does); leave out "scope": "global"`);
    if (granularity !== 'element') err(at('granularity'), `method ${s.method} prunes single weights (granularity "element")`);
  } else if (ranked) {
    if (has('amount') === has('count')) err(at(has('amount') ? 'count' : 'method'), `method ${s.method} needs exactly one of "amount" (a fraction) or "count"`);
  } else {
    only('amount', false, `does not apply to method ${s.method}${s.method === 'custom' ? ' with a mask' : ''}`);
    only('count', false, `does not apply to method ${s.method}${s.method === 'custom' ? ' with a mask' : ''}`);
  }
  if (s.method === 'threshold' && !has('threshold')) err(at('method'), 'method threshold needs "threshold"');
  if (s.method === 'nm' && !has('nm')) err(at('method'), 'method nm needs "nm", for example "2:4"');
  if (s.method === 'nm' && granularity !== 'element') err(at('granularity'), 'N:M sparsity works on single weights (granularity "element")');
  if (s.method === 'custom' && has('mask') === has('importance')) err(at('method'), 'method custom needs exactly one of "mask" or "importance"');
  if (s.method === 'custom' && has('mask') && granularity !== 'element') err(at('granularity'), 'a custom mask is element-wise; leave out "granularity"');
  if (s.method === 'bn-gamma' && !s.structured && granularity !== 'filter') {
    err(at('granularity'), 'bn-gamma ranks whole filters: use granularity "filter" (or structured: true)');
  }
  if (has('max_ratio') && !ranked && !calibratedMask) err(at('max_ratio'), `"max_ratio" limits ranked pruning; it does not apply to method ${s.method}`);
}

function unknownKeys(o: Record<string, unknown>, known: string[], path: (string | number)[], what: string, err: Err): void {
  for (const k of Object.keys(o)) {
    if (known.includes(k)) continue;
    const near = closest(k, known);
    err([...path, k], `unknown ${what} option "${k}"${near ? ` (did you mean "${near}"?)` : ''}`);
  }
}

function checkType(s: Record<string, unknown>, k: string, type: string, at: (k: string) => (string | number)[], err: Err): void {
  if (s[k] !== undefined && typeof s[k] !== type) err(at(k), `"${k}" must be ${type === 'boolean' ? 'true or false' : `a ${type}`}`);
}

function stringList(s: Record<string, unknown>, k: string, at: (k: string) => (string | number)[], err: Err): boolean {
  const v = s[k];
  if (v === undefined) return true;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0)) {
    err(at(k), `"${k}" must be a list of non-empty strings`);
    return false;
  }
  return true;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The known key within edit distance 2, for "did you mean". */
function closest(word: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

