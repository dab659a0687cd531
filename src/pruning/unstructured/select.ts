// Choosing which units (single weights, filters, input channels, kernel
// positions) to prune: the k lowest scores among the units not pruned yet,
// across one tensor (local) or several (global), with optional per-tensor caps.
//
// Ties: torch ranks with topk, whose order among equal scores is unspecified.
// Here it is fixed: among equal scores the earlier tensor, then the lower unit
// index, is pruned first, so results never depend on the sort implementation.

/** One tensor taking part in a ranking. */
export interface Ranked {
  /** Score per unit; the lowest are pruned first. */
  scores: Float64Array;
  /** 1 where the unit is not pruned yet; only those are candidates. */
  alive: Uint8Array;
  /** Most units this tensor may lose in this ranking (max_ratio); unlimited when absent. */
  cap?: number;
}

export function countAlive(alive: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < alive.length; i++) n += alive[i];
  return n;
}

/**
 * Marks the `k` lowest-scoring alive units across `tensors`, respecting caps.
 * Returns, per tensor, 1 for every unit to prune now. `k` must not exceed the
 * alive units that the caps allow (callers compute it with entriesToPrune).
 */
export function selectLowest(tensors: readonly Ranked[], k: number): Uint8Array[] {
  const picked = tensors.map((t) => new Uint8Array(t.scores.length));
  let open = tensors.map((_, i) => i);
  let left = k;
  // A tensor that would lose more than its cap loses exactly its cap, and the
  // rest of k is ranked again among the others; at most one round per tensor.
  for (;;) {
    const trial = pickLowest(open.map((i) => tensors[i]), left);
    const over = open.filter((i, j) => tensors[i].cap !== undefined && countAlive(trial[j]) > tensors[i].cap!);
    if (over.length === 0) {
      open.forEach((i, j) => picked[i].set(trial[j]));
      return picked;
    }
    for (const i of over) {
      const cap = tensors[i].cap!;
      picked[i].set(pickLowest([tensors[i]], cap)[0]);
      left -= cap;
    }
    open = open.filter((i) => !over.includes(i));
  }
}

/** The k lowest alive units, ties to the earlier tensor and lower index. */
function pickLowest(tensors: readonly Ranked[], k: number): Uint8Array[] {
  const picked = tensors.map((t) => new Uint8Array(t.scores.length));
  if (k <= 0) return picked;
  let total = 0;
  for (const t of tensors) total += countAlive(t.alive);
  if (k > total) throw new Error(`selectLowest: ${k} units asked, ${total} alive`);
  const pool = new Float64Array(total);
  let p = 0;
  for (const t of tensors) for (let u = 0; u < t.scores.length; u++) if (t.alive[u]) pool[p++] = t.scores[u];
  const kth = kthSmallest(pool, k - 1);
  let below = 0;
  for (let i = 0; i < total; i++) if (pool[i] < kth) below++;
  let ties = k - below;
  for (let i = 0; i < tensors.length; i++) {
    const { scores, alive } = tensors[i];
    const out = picked[i];
    for (let u = 0; u < scores.length; u++) {
      if (!alive[u]) continue;
      const s = scores[u];
      if (s < kth) {
        out[u] = 1;
      } else if (s === kth && ties > 0) {
        out[u] = 1;
        ties--;
      }
    }
  }
  return picked;
}

/**
 * The value that would sit at index `k` if `a` were sorted ascending, found by
 * quickselect with a three-way partition (many equal scores stay linear).
 * Reorders `a`. Expected O(n): a full sort of millions of float64 is seconds.
 */
export function kthSmallest(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >> 1);
    const pivot = median3(a[lo], a[mid], a[hi]);
    let lt = lo;
    let i = lo;
    let gt = hi;
    while (i <= gt) {
      const v = a[i];
      if (v < pivot) {
        a[i++] = a[lt];
        a[lt++] = v;
      } else if (v > pivot) {
        a[i] = a[gt];
        a[gt--] = v;
      } else {
        i++;
      }
    }
    if (k < lt) hi = lt - 1;
    else if (k > gt) lo = gt + 1;
    else return pivot;
  }
  return a[lo];
}

function median3(x: number, y: number, z: number): number {
  if (x < y) return y < z ? y : x < z ? z : x;
  return x < z ? x : y < z ? z : y;
}
