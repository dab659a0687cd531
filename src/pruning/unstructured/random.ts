// A small seeded generator, so that random pruning is reproducible: the same
// seed and layer give the same mask on every machine. Each tensor draws from
// its own stream (seed mixed with the tensor's name), so adding a layer to a
// step does not change the masks of the others.

/** mulberry32: 32-bit state, uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string mixed with a seed. */
export function streamSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function randomScores(units: number, seed: number, name: string): Float64Array {
  const next = mulberry32(streamSeed(seed, name));
  const out = new Float64Array(units);
  for (let i = 0; i < units; i++) out[i] = next();
  return out;
}
