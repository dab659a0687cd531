// Symbolic dims. A dim is a number, or a string that names a size the model
// leaves open: one of its named dims (`batch`, `height`) or an expression
// over them (`2*batch`, `height/32`, `floor((height-1)/2)+1`). Strings are
// canonical, so two dims are equal exactly when their strings are equal, and
// an expression that simplifies to a constant is always a number. `?` is a
// dim nothing is known about; every operation with it gives `?`.
//
// Expressions are polynomials with rational coefficients over atoms; an atom
// is a named dim or a floor quotient `floor(P/k)` that could not be
// simplified. Products, sums and exact quotients simplify; floor division
// pulls out the part that divides (`floor((2*h+1)/2)` is `h`).

export type Dim = number | string;

export const UNKNOWN = '?';

interface Term {
  /** Atom names, sorted, repeated for powers; empty for the constant term. */
  atoms: string[];
  /** Coefficient numerator and denominator (den > 0, lowest terms). */
  num: number;
  den: number;
}

/** Terms by key (atoms joined); no zero coefficients. */
type Poly = Map<string, Term>;

const SEP = '\u0001';
/**
 * Canonical string → polynomial, for every expression built here (never
 * cleared: a forgotten expression would be read back as one opaque name).
 */
const interned = new Map<string, Poly>();
/** Floor atoms: display name → what it is the floor of. */
const floors = new Map<string, { inner: Poly; k: number }>();

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a || 1;
}

function term(atoms: string[], num: number, den = 1): Term {
  if (den < 0) [num, den] = [-num, -den];
  const g = gcd(num, den);
  return { atoms, num: num / g, den: den / g };
}

function addTerm(p: Poly, t: Term): void {
  if (!t.num) return;
  const key = t.atoms.join(SEP);
  const old = p.get(key);
  if (!old) {
    p.set(key, t);
    return;
  }
  const s = term(t.atoms, old.num * t.den + t.num * old.den, old.den * t.den);
  if (s.num) p.set(key, s);
  else p.delete(key);
}

function constPoly(n: number): Poly {
  const p: Poly = new Map();
  addTerm(p, term([], n));
  return p;
}

/** The polynomial of a dim; undefined for `?` and for non-integer numbers. */
function toPoly(d: Dim): Poly | undefined {
  if (typeof d === 'number') return Number.isInteger(d) ? constPoly(d) : undefined;
  if (d === UNKNOWN || d === '') return undefined;
  const known = interned.get(d);
  if (known) return known;
  // A name from the model (`batch`, `p2o.DynamicDimension.0`): one atom.
  const p: Poly = new Map([[d, { atoms: [d], num: 1, den: 1 }]]);
  return p;
}

function sortedTerms(p: Poly): Term[] {
  return [...p.values()].sort((a, b) => b.atoms.length - a.atoms.length
    || (a.atoms.join('*') < b.atoms.join('*') ? -1 : a.atoms.join('*') > b.atoms.join('*') ? 1 : 0));
}

function print(p: Poly): string {
  let out = '';
  for (const t of sortedTerms(p)) {
    const mono = t.atoms.join('*');
    const n = Math.abs(t.num);
    let s = mono ? (n === 1 ? mono : `${n}*${mono}`) : String(n);
    if (t.den !== 1) s += `/${t.den}`;
    out += t.num < 0 ? `-${s}` : out ? `+${s}` : s;
  }
  return out || '0';
}

/** A polynomial as a dim: a number when it is constant, else its canonical string. */
function fromPoly(p: Poly): Dim {
  if (p.size === 0) return 0;
  if (p.size === 1) {
    const t = p.values().next().value as Term;
    if (!t.atoms.length) return t.num / t.den;
  }
  const s = print(p);
  if (!interned.has(s)) interned.set(s, p);
  return s;
}

function isInteger(d: Dim): boolean {
  return typeof d === 'number' ? Number.isInteger(d) : true;
}

export function isKnown(d: Dim | undefined): d is Dim {
  return d !== undefined && d !== UNKNOWN && d !== '';
}

export function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  const pa = toPoly(a);
  const pb = toPoly(b);
  if (!pa || !pb) return UNKNOWN;
  const p: Poly = new Map(pa);
  for (const t of pb.values()) addTerm(p, t);
  return fromPoly(p);
}

export function negDim(a: Dim): Dim {
  return mulDims(a, -1);
}

export function subDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return addDims(a, negDim(b));
}

export function mulDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (a === 0 || b === 0) return 0;
  const pa = toPoly(a);
  const pb = toPoly(b);
  if (!pa || !pb) return UNKNOWN;
  const p: Poly = new Map();
  for (const x of pa.values()) {
    for (const y of pb.values()) addTerm(p, term([...x.atoms, ...y.atoms].sort(), x.num * y.num, x.den * y.den));
  }
  return fromPoly(p);
}

/** The product of a list of dims (1 for none). */
export function prodDims(list: Dim[]): Dim {
  return list.reduce<Dim>((p, d) => mulDims(p, d), 1);
}

export function sumDims(list: Dim[]): Dim {
  return list.reduce<Dim>((p, d) => addDims(p, d), 0);
}

/**
 * a / b where the op guarantees the quotient is whole (Reshape's -1, equal
 * Split parts): a number, an expression with a rational coefficient
 * (`height/32`), or `?` when b is not a single term that divides a's terms.
 */
export function exactDiv(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return b === 0 ? UNKNOWN : a / b;
  const pa = toPoly(a);
  const pb = toPoly(b);
  if (!pa || !pb || pb.size !== 1) return UNKNOWN;
  const div = pb.values().next().value as Term;
  if (!div.num) return UNKNOWN;
  const p: Poly = new Map();
  for (const t of pa.values()) {
    const rest = t.atoms.slice();
    for (const atom of div.atoms) {
      const i = rest.indexOf(atom);
      if (i < 0) return UNKNOWN;
      rest.splice(i, 1);
    }
    addTerm(p, term(rest, t.num * div.den, t.den * div.num));
  }
  return fromPoly(p);
}

/** floor(a / k) for a whole k > 0; the part of a that k divides comes out of the floor. */
export function floorDiv(a: Dim, k: number): Dim {
  if (!Number.isInteger(k) || k <= 0) return UNKNOWN;
  if (typeof a === 'number') return Math.floor(a / k);
  const pa = toPoly(a);
  if (!pa) return UNKNOWN;
  // Clear denominators: a = P / den with whole coefficients in P.
  let den = 1;
  for (const t of pa.values()) den = (den * t.den) / gcd(den, t.den);
  const q = den * k;
  const whole: Poly = new Map();
  const rest: Poly = new Map();
  for (const t of pa.values()) {
    const c = (t.num * den) / t.den;
    const r = ((c % q) + q) % q;
    addTerm(whole, term(t.atoms, (c - r) / q));
    addTerm(rest, term(t.atoms, r));
  }
  if (rest.size === 0) return fromPoly(whole);
  const restConst = rest.size === 1 && rest.has('') ? (rest.get('')!.num) : undefined;
  // 0 <= restConst < q, so its floor quotient is 0.
  if (restConst !== undefined) return fromPoly(whole);
  // floor((floor(P/a) + b) / q) = floor((P + a*b) / (a*q)): strided layers in a row stay one quotient.
  const nested = [...rest.values()].filter((t) => t.atoms.length);
  if (nested.length === 1 && nested[0].atoms.length === 1 && nested[0].num === 1 && floors.has(nested[0].atoms[0])) {
    const f = floors.get(nested[0].atoms[0])!;
    const b = rest.get('')?.num ?? 0;
    const p: Poly = new Map(f.inner);
    addTerm(p, term([], f.k * b));
    return addDims(fromPoly(whole), floorDiv(fromPoly(p), f.k * q));
  }
  const inner = print(rest);
  const name = `floor(${rest.size > 1 ? `(${inner})` : inner}/${q})`;
  floors.set(name, { inner: rest, k: q });
  addTerm(whole, term([name], 1));
  return fromPoly(whole);
}

/** ceil(a / k) for a whole k > 0. */
export function ceilDiv(a: Dim, k: number): Dim {
  return negDim(floorDiv(negDim(a), k));
}

/**
 * floor(a * s) for a float scale s (Resize): exact when s is a ratio of small
 * whole numbers (2, 0.5, 1.5), `?` otherwise.
 */
export function scaleDim(a: Dim, s: number): Dim {
  if (typeof a === 'number') return Math.floor(a * s);
  for (let den = 1; den <= 64; den++) {
    const num = Math.round(s * den);
    if (Math.abs(num / den - s) < 1e-9 * Math.max(1, Math.abs(s))) return floorDiv(mulDims(a, num), den);
  }
  return UNKNOWN;
}

/** The named dims an expression uses, sorted. */
export function dimSymbols(d: Dim): string[] {
  const out = new Set<string>();
  const visit = (p: Poly) => {
    for (const t of p.values()) {
      for (const atom of t.atoms) {
        const f = floors.get(atom);
        if (f) visit(f.inner);
        else out.add(atom);
      }
    }
  };
  const p = toPoly(d);
  if (p) visit(p);
  return [...out].sort();
}

/** The value of a dim once its named dims are given; undefined when one is missing. */
export function evalDim(d: Dim, env: Readonly<Record<string, number>>): number | undefined {
  if (typeof d === 'number') return d;
  const p = toPoly(d);
  return p ? evalPoly(p, env) : undefined;
}

function evalPoly(p: Poly, env: Readonly<Record<string, number>>): number | undefined {
  let sum = 0;
  for (const t of p.values()) {
    let v = t.num;
    for (const atom of t.atoms) {
      const f = floors.get(atom);
      const x = f ? evalFloor(f, env) : env[atom];
      if (x === undefined || !Number.isFinite(x)) return undefined;
      v *= x;
    }
    sum += v / t.den;
  }
  const r = Math.round(sum);
  return Math.abs(r - sum) < 1e-9 ? r : sum;
}

function evalFloor(f: { inner: Poly; k: number }, env: Readonly<Record<string, number>>): number | undefined {
  const v = evalPoly(f.inner, env);
  return v === undefined ? undefined : Math.floor(v / f.k);
}

/** True when a dim is a whole number or an expression (expressions stand for whole sizes). */
export function isWholeDim(d: Dim): boolean {
  return isKnown(d) && isInteger(d);
}
