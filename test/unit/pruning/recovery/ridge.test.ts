import * as assert from 'node:assert/strict';
import { NormalEquations, cholesky, solveCholesky } from '../../../../src/pruning/recovery/ridge';
import { seededRandom } from '../../../../src/validation/datasets';

describe('recovery: ridge solver', () => {
  it('solves ridge regression with one feature in closed form: w = Σxy / (Σx² + λ)', () => {
    const x = Float64Array.from([1, 2, 3, 4]);
    const y = Float64Array.from([2.5, 3.5, 7, 8]);
    const eq = new NormalEquations(1, 1);
    eq.add(x, y, 4);
    const sxx = 1 + 4 + 9 + 16;
    const sxy = 2.5 + 7 + 21 + 32;
    // λ is relative to the mean diagonal of XᵀX, here Σx² itself.
    const w = eq.solve(0.1);
    assert.ok(Math.abs(w[0] - sxy / (sxx + 0.1 * sxx)) < 1e-9, `${w[0]}`);
  });

  it('fits a line with an unpenalised bias exactly (ordinary least squares closed form)', () => {
    const xs = [0, 1, 2, 3, 4, 5];
    const ys = [1.1, 2.9, 5.2, 7.1, 8.8, 11.2];
    const eq = new NormalEquations(2, 1);
    eq.add(Float64Array.from(xs.flatMap((x) => [x, 1])), Float64Array.from(ys), xs.length);
    const n = xs.length;
    const mx = xs.reduce((a, b) => a + b) / n;
    const my = ys.reduce((a, b) => a + b) / n;
    const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    const w = eq.solve(0, [1]);
    assert.ok(Math.abs(w[0] - slope) < 1e-9);
    assert.ok(Math.abs(w[1] - (my - slope * mx)) < 1e-9);
  });

  it('scales λ by the mean diagonal of the penalised columns only, not the bias column', () => {
    // Small features (like a slimmed network's activations) next to the bias column of ones.
    const xs = [0.01, 0.02, 0.015, 0.03, 0.005, 0.025];
    const ys = [1.0, 1.4, 1.1, 2.0, 0.7, 1.6];
    const eq = new NormalEquations(2, 1);
    eq.add(Float64Array.from(xs.flatMap((x) => [x, 1])), Float64Array.from(ys), xs.length);
    const n = xs.length;
    const mx = xs.reduce((a, b) => a + b) / n;
    const my = ys.reduce((a, b) => a + b) / n;
    const reg = 0.1 * xs.reduce((s, x) => s + x * x, 0);
    const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / (xs.reduce((s, x) => s + (x - mx) ** 2, 0) + reg);
    const w = eq.solve(0.1, [1]);
    assert.ok(Math.abs(w[0] - slope) < 1e-6 * Math.abs(slope), `${w[0]} vs ${slope}`);
    assert.ok(Math.abs(w[1] - (my - slope * mx)) < 1e-6, `${w[1]}`);
    // One factorisation solves against other targets too.
    const solve = eq.factor(0.1, [1]);
    assert.deepEqual(Array.from(solve(eq.cross)), Array.from(w));
  });

  it('recovers an exact linear map from noiseless data as λ → 0, in batches or at once', () => {
    const d = 12;
    const m = 3;
    const rand = seededRandom(7);
    const truth = Float64Array.from({ length: d * m }, () => rand() * 2 - 1);
    const rows = 100;
    const x = Float32Array.from({ length: rows * d }, () => rand() * 2 - 1);
    const y = new Float64Array(rows * m);
    for (let r = 0; r < rows; r++) for (let o = 0; o < m; o++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += x[r * d + i] * truth[i * m + o];
      y[r * m + o] = s;
    }
    const whole = new NormalEquations(d, m);
    whole.add(x, y, rows);
    const batched = new NormalEquations(d, m);
    batched.add(x.subarray(0, 40 * d), y.subarray(0, 40 * m), 40);
    batched.add(x.subarray(40 * d), y.subarray(40 * m), 60);
    for (const eq of [whole, batched]) {
      const w = eq.solve(0);
      for (let i = 0; i < w.length; i++) assert.ok(Math.abs(w[i] - truth[i]) < 1e-8, `w[${i}] = ${w[i]}, expected ${truth[i]}`);
    }
    // A real penalty shrinks the weights.
    const shrunk = whole.solve(1);
    assert.ok(shrunk.reduce((s, v) => s + v * v, 0) < truth.reduce((s, v) => s + v * v, 0));
  });

  it('Cholesky solves a known SPD system, and refuses a singular one with a usable message', () => {
    const a = Float64Array.from([4, 2, 2, 3]);
    const b = Float64Array.from([2, 1]);
    cholesky(a, 2);
    solveCholesky(a, 2, b, 1);
    // [[4,2],[2,3]]⁻¹ [2,1] = [0.5, 0]
    assert.ok(Math.abs(b[0] - 0.5) < 1e-12 && Math.abs(b[1]) < 1e-12);
    assert.throws(() => cholesky(Float64Array.from([1, 1, 1, 1]), 2), /not positive definite.*calibration samples or a larger ridge/);
  });
});
