// Per-layer (per-group) normalisation of channel scores before a global
// ranking, as Torch-Pruning's `normalizer`. Pure, so the report webview's
// preview uses the same arithmetic as the engine.

export type Normalizer = 'none' | 'mean' | 'max' | 'sum' | 'minmax' | 'gaussian';

export function normalize(s: Float64Array, how: Normalizer): Float64Array {
  if (how === 'none' || s.length === 0) return s;
  let sum = 0;
  let max = -Infinity;
  let min = Infinity;
  for (const v of s) {
    sum += v;
    max = Math.max(max, v);
    min = Math.min(min, v);
  }
  const mean = sum / s.length;
  switch (how) {
    case 'mean': return s.map((v) => v / (mean + 1e-8));
    case 'max': return s.map((v) => v / (max + 1e-8));
    case 'sum': return s.map((v) => v / (sum + 1e-8));
    case 'minmax': return s.map((v) => (v - min) / (max - min + 1e-8));
    case 'gaussian': {
      let sq = 0;
      for (const v of s) sq += (v - mean) ** 2;
      const std = Math.sqrt(sq / s.length);
      return s.map((v) => (v - mean) / (std + 1e-8));
    }
  }
}
