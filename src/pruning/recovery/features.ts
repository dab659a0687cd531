// The least-squares problem of one layer, as rows of features and targets:
// for a Conv, the im2col patches of its input (kept input channels × kernel
// positions, respecting stride, pads, dilation and groups) against its output
// at each position; for Gemm and MatMul, the input vector against the output.
// A trailing 1 in each feature row fits the bias. Rows come in chunks of
// bounded size, so memory does not grow with the calibration set.

import { attrInt, attrInts, attrString } from '../../onnx/attributes';
import { PruneLensError } from '../../onnx/errors';
import type { NodeProto } from '../../onnx/schema';
import type { Activation } from './source';

/** How a layer maps its input to its output, as far as the least-squares fit needs to know. */
export interface LayerGeometry {
  op: 'Conv' | 'Gemm' | 'MatMul';
  groups: number;
  /** Conv: kernel, strides, dilations and begin pads per spatial axis (1-D convs as H = 1). */
  kernel: number[];
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  /** Whether the fit has a bias column. */
  bias: boolean;
}

export interface Chunk {
  rows: number;
  /** rows × d, row-major; d counts the bias column. */
  features: Float32Array;
  /** rows × m, row-major. */
  targets: Float32Array;
}

/** Keep one chunk's feature matrix under this many floats (16 MiB). */
const CHUNK_FLOATS = 4 << 20;

export function convGeometry(node: NodeProto, weightDims: number[], input: number[], bias: boolean): LayerGeometry {
  const spatial = weightDims.length - 2;
  if (spatial < 1 || spatial > 2) throw new PruneLensError('unsupported', `reconstruction handles 1-D and 2-D convolutions, not ${spatial}-D`);
  const kernel = weightDims.slice(2);
  const strides = attrInts(node, 'strides') ?? kernel.map(() => 1);
  const dilations = attrInts(node, 'dilations') ?? kernel.map(() => 1);
  let padsBegin = (attrInts(node, 'pads') ?? kernel.concat(kernel).map(() => 0)).slice(0, spatial);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    padsBegin = kernel.map((k, a) => {
      const inLen = input[2 + a];
      const out = Math.ceil(inLen / strides[a]);
      const total = Math.max(0, (out - 1) * strides[a] + (k - 1) * dilations[a] + 1 - inLen);
      return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
    });
  } else if (autoPad === 'VALID') {
    padsBegin = kernel.map(() => 0);
  }
  // A 1-D convolution is a 2-D one with a height of 1.
  const lift = (v: number[], one: number) => (spatial === 1 ? [one, ...v] : v);
  return {
    op: 'Conv', groups: Math.max(1, attrInt(node, 'group', 1)), bias,
    kernel: lift(kernel, 1), strides: lift(strides, 1), dilations: lift(dilations, 1), padsBegin: lift(padsBegin, 0),
  };
}

export function denseGeometry(op: 'Gemm' | 'MatMul', bias: boolean): LayerGeometry {
  return { op, groups: 1, kernel: [], strides: [], dilations: [], padsBegin: [], bias };
}

/** Feature width of one group: kept input channels per group × kernel positions (+1 for the bias). */
export function featureWidth(g: LayerGeometry, inChannels: number): number {
  const perGroup = inChannels / g.groups;
  return perGroup * g.kernel.reduce((p, k) => p * k, 1) + (g.bias ? 1 : 0);
}

/**
 * Chunks of (features, targets) of group `group` for one batch. `x` is the
 * layer's input, `y` the output to match, restricted to the kept output
 * channels (Conv: [N, M, OH, OW]; dense: [..., M]).
 */
export function* layerChunks(g: LayerGeometry, x: Activation, y: Activation, group: number): Generator<Chunk> {
  if (g.op === 'Conv') yield* convChunks(g, x, y, group);
  else yield* denseChunks(g, x, y);
}

function* denseChunks(g: LayerGeometry, x: Activation, y: Activation): Generator<Chunk> {
  const k = x.dims[x.dims.length - 1];
  const m = y.dims[y.dims.length - 1];
  const total = x.data.length / k;
  if (y.data.length / m !== total) throw new PruneLensError('shape', `input has ${total} rows, output ${y.data.length / m}`);
  const d = k + (g.bias ? 1 : 0);
  const step = Math.max(1, Math.floor(CHUNK_FLOATS / d));
  for (let r0 = 0; r0 < total; r0 += step) {
    const rows = Math.min(step, total - r0);
    const features = new Float32Array(rows * d);
    if (!g.bias) features.set(x.data.subarray(r0 * k, (r0 + rows) * k));
    else for (let r = 0; r < rows; r++) {
      features.set(x.data.subarray((r0 + r) * k, (r0 + r + 1) * k), r * d);
      features[r * d + k] = 1;
    }
    yield { rows, features, targets: y.data.slice(r0 * m, (r0 + rows) * m) };
  }
}

function* convChunks(g: LayerGeometry, x: Activation, y: Activation, group: number): Generator<Chunk> {
  // Lift 1-D activations [N, C, L] to [N, C, 1, L].
  const [n, c, h, w] = x.dims.length === 3 ? [x.dims[0], x.dims[1], 1, x.dims[2]] : x.dims;
  const [, mAll, oh, ow] = y.dims.length === 3 ? [y.dims[0], y.dims[1], 1, y.dims[2]] : y.dims;
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const [ph, pw] = g.padsBegin;
  const cg = c / g.groups;
  const m = mAll / g.groups;
  const c0 = group * cg;
  const m0 = group * m;
  const d = cg * kh * kw + (g.bias ? 1 : 0);
  const perSample = oh * ow;
  const samplesPerChunk = Math.max(1, Math.floor(CHUNK_FLOATS / (perSample * d)));
  const xs = x.data;
  const ys = y.data;
  for (let n0 = 0; n0 < n; n0 += samplesPerChunk) {
    const ns = Math.min(samplesPerChunk, n - n0);
    const rows = ns * perSample;
    const features = new Float32Array(rows * d);
    const targets = new Float32Array(rows * m);
    for (let s = 0; s < ns; s++) {
      const xBase = (n0 + s) * c * h * w;
      const yBase = (n0 + s) * mAll * perSample;
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          const row = s * perSample + i * ow + j;
          let f = row * d;
          for (let ci = 0; ci < cg; ci++) {
            const plane = xBase + (c0 + ci) * h * w;
            for (let a = 0; a < kh; a++) {
              const yy = i * sh - ph + a * dh;
              const inside = yy >= 0 && yy < h;
              for (let b = 0; b < kw; b++, f++) {
                const xx = j * sw - pw + b * dw;
                if (inside && xx >= 0 && xx < w) features[f] = xs[plane + yy * w + xx];
              }
            }
          }
          if (g.bias) features[f] = 1;
          const t = row * m;
          for (let o = 0; o < m; o++) targets[t + o] = ys[yBase + (m0 + o) * perSample + i * ow + j];
        }
      }
    }
    yield { rows, features, targets };
  }
}
