// Makes a "pruned" digits_vgg_slim_s1e-2 for the validation tests by the
// network-slimming rule: zero the BatchNorm gamma and beta of the channels
// with the lowest |gamma| (one global threshold over the four BN layers).
// A zeroed channel outputs ReLU(0) = 0, as if it were removed. The edit is
// in place in the initializers' raw_data, so the protobuf lengths stay put.

import { strict as assert } from 'node:assert';

export const VGG_BN_LAYERS = ['features.0.1', 'features.1.1', 'features.3.1', 'features.4.1'];

/** Byte range of the float32 raw_data of the initializer `name` (TensorProto: name = field 8, raw_data = field 9). */
function rawDataRange(bytes: Buffer, name: string): { start: number; count: number } {
  const key = Buffer.from(name);
  for (let at = bytes.indexOf(key); at >= 0; at = bytes.indexOf(key, at + 1)) {
    if (bytes[at - 2] !== 0x42 || bytes[at - 1] !== key.length) continue;
    let p = at + key.length;
    if (bytes[p++] !== 0x4a) continue;
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[p++];
      length |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    return { start: p, count: length / 4 };
  }
  throw new Error(`initializer ${name} with raw_data not found`);
}

/** Returns the edited model bytes and how many channels each layer lost. */
export function zeroLowestGammaChannels(model: Buffer, layers: string[], ratio: number): { bytes: Buffer; zeroed: number[] } {
  const bytes = Buffer.from(model);
  const gammas = layers.map((l) => rawDataRange(bytes, `${l}.weight`));
  const betas = layers.map((l) => rawDataRange(bytes, `${l}.bias`));
  const all: { layer: number; channel: number; score: number }[] = [];
  gammas.forEach((g, layer) => {
    for (let c = 0; c < g.count; c++) all.push({ layer, channel: c, score: Math.abs(bytes.readFloatLE(g.start + 4 * c)) });
  });
  all.sort((a, b) => a.score - b.score);
  const chosen = all.slice(0, Math.floor(ratio * all.length));
  const zeroed = layers.map(() => 0);
  for (const { layer, channel } of chosen) {
    assert.equal(betas[layer].count, gammas[layer].count);
    bytes.writeFloatLE(0, gammas[layer].start + 4 * channel);
    bytes.writeFloatLE(0, betas[layer].start + 4 * channel);
    zeroed[layer]++;
  }
  return { bytes, zeroed };
}
