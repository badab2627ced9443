// UpSampling2D(nearest, s) followed by a stride-1 'same' Conv2D, rewritten as a conv at the input size
// with 3·s² (C·s²) outputs + DepthToSpace. Exact (only the summation order differs): every output pixel
// (s·y+i, s·x+j) of the original reads the upsampled image at s·y+i+dy-p, which is the input pixel
// y + floor((i+dy-p)/s), so each phase (i, j) is a small conv on the input whose taps are sums of the
// original taps. Zero padding agrees too: an upsampled index is outside [0, s·H) exactly when its input
// index is outside [0, H). Why: the upsampled tensor is s² times larger than the input (805 MB for the
// x8 models on a 128×128 tile, 50 MB at x4), the rewrite never builds it, at the same multiply count.
import { attr, makeNode } from '../onnx/build.ts';
import { emitActivation } from './activations.ts';
import type { KerasLayer } from './keras-topology.ts';
import { activationOf, hwioToOihw } from './layers.ts';
import type { ImageTensor, LayerScope } from './layers.ts';

const asPair = (v: unknown, fallback: number): [number, number] | undefined => {
  if (v === undefined || v === null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  return Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number') ? [v[0], v[1]] : undefined;
};
const same = (p: [number, number] | undefined, a: number, b: number) => p !== undefined && p[0] === a && p[1] === b;

/** The block size when `up` -> `conv` can be merged, else undefined (the layers are then emitted as they are). */
export function mergeableUpsampling(up: KerasLayer, conv: KerasLayer): number | undefined {
  const u = up.config;
  const c = conv.config;
  const size = asPair(u.size, 2);
  if (up.className !== 'UpSampling2D' || conv.className !== 'Conv2D') return undefined;
  if ((u.interpolation ?? 'nearest') !== 'nearest' || (u.data_format ?? 'channels_last') !== 'channels_last') return undefined;
  if (!size || size[0] !== size[1] || size[0] < 2) return undefined;
  if ((c.data_format ?? 'channels_last') !== 'channels_last' || (c.padding ?? 'valid') !== 'same') return undefined;
  if (!same(asPair(c.strides, 1), 1, 1) || !same(asPair(c.dilation_rate, 1), 1, 1) || (c.groups ?? 1) !== 1) return undefined;
  if (conv.calls.length !== 1) return undefined;
  return size[0];
}

/** Emits the merged conv on `x` (the upsampling's input). The scope is the Conv2D layer's. */
export function emitUpsampledConv(s: LayerScope, x: ImageTensor, out: string, block: number): ImageTensor {
  const kernel = s.weight('kernel');
  const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
  if (kernel.shape.length !== 4 || cin !== x.channels) {
    s.fail(`kernel shape [${kernel.shape.join(', ')}] does not fit ${x.channels} input channels`);
  }
  const rows = phaseTaps(kh, block);
  const cols = phaseTaps(kw, block);
  const [KH, KW] = [rows.size, cols.size];
  const oihw = hwioToOihw(kernel.values, kh, kw, cin, cout);
  // Accumulate in float64: a merged tap sums up to ceil(k/s)+1 original taps.
  const merged = new Float64Array(cout * block * block * cin * KH * KW);
  for (let i = 0; i < block; i++) {
    for (let j = 0; j < block; j++) {
      for (let o = 0; o < cout; o++) {
        const channel = (i * block + j) * cout + o; // DCR order, as DepthToSpace reads it
        for (let c = 0; c < cin; c++) {
          for (let dy = 0; dy < kh; dy++) {
            const a = rows.tap(i, dy);
            for (let dx = 0; dx < kw; dx++) {
              merged[((channel * cin + c) * KH + a) * KW + cols.tap(j, dx)]! += oihw[((o * cin + c) * kh + dy) * kw + dx]!;
            }
          }
        }
      }
    }
  }
  const inputs = [x.name, s.constant('weight', [cout * block * block, cin, KH, KW], Float32Array.from(merged))];
  if (s.layer.config.use_bias ?? true) {
    const bias = s.weight('bias').values;
    const tiled = new Float32Array(cout * block * block);
    for (let p = 0; p < block * block; p++) tiled.set(bias, p * cout);
    inputs.push(s.constant('bias', [tiled.length], tiled));
  }
  const act = activationOf(s, s.layer.config.activation);
  const convOut = s.tmp('phases');
  s.add(makeNode('Conv', inputs, [convOut], {
    kernel_shape: attr.ints([KH, KW]),
    strides: attr.ints([1, 1]),
    dilations: attr.ints([1, 1]),
    group: attr.int(1),
    pads: attr.ints([rows.padBefore, cols.padBefore, rows.padAfter, cols.padAfter]),
  }));
  let shuffleIn = convOut;
  if (act !== 'linear') {
    shuffleIn = s.tmp('activated');
    s.add(...emitActivation(act, convOut, shuffleIn, s));
  }
  s.add(makeNode('DepthToSpace', [shuffleIn], [out], { blocksize: attr.int(block), mode: attr.string('DCR') }));
  return { name: out, channels: cout, h: x.h.map((v) => v * block), w: x.w.map((v) => v * block) };
}

/**
 * Along one axis: a kernel of size k with TF 'same' padding (k-1 in total, the odd one at the end) on an
 * image upsampled by `block`. Tap d of phase i reads input offset floor((i + d - p) / block).
 */
function phaseTaps(k: number, block: number) {
  const p = Math.floor((k - 1) / 2);
  const min = Math.floor(-p / block);
  const max = Math.floor((block - 1 + k - 1 - p) / block);
  return {
    size: max - min + 1,
    padBefore: -min,
    padAfter: max,
    tap: (phase: number, d: number) => Math.floor((phase + d - p) / block) - min,
  };
}
