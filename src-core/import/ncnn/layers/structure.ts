// Layers that route or reshape blobs: Split, Noop, Dropout, Concat, PixelShuffle, Interp, Crop, Padding,
// Pooling. ncnn's axes count over [c, h, w] (0 = channels); ONNX's over [n, c, h, w].
import { attr } from '../../../onnx/build.ts';
import type { AttributeProto } from '../../../onnx/types.ts';
import type { Blob, LayerContext, LayerConverter } from '../context.ts';
import { expectInputs } from '../context.ts';

const INT64_MAX = Number.MAX_SAFE_INTEGER; // ONNX Slice clamps ends; any large value means "to the end"

/** ncnn axis of a 3-D blob (negative counts from the end) -> ONNX axis of [1, c, h, w]. */
function onnxAxis(ctx: LayerContext, axis: number): number {
  const a = axis < 0 ? axis + 3 : axis;
  if (a < 0 || a > 2) ctx.fail(`axis ${axis} is out of range for a [c, h, w] blob`);
  return a + 1;
}

/** Copies of one blob: ncnn's Split, and layers that do nothing at inference. */
const alias: LayerConverter = (ctx, inputs) => {
  expectInputs(ctx, inputs, 1);
  return ctx.layer.tops.map(() => inputs[0]!);
};

const dropout: LayerConverter = (ctx, inputs) => {
  expectInputs(ctx, inputs, 1);
  const scale = ctx.params.float(0, 1);
  if (scale === 1) return [inputs[0]!];
  ctx.node('Mul', [inputs[0]!.name, ctx.scalar(scale)], [ctx.top()]);
  return [{ ...inputs[0]!, name: ctx.top() }];
};

const concat: LayerConverter = (ctx, inputs) => {
  if (inputs.length < 1) ctx.fail('needs at least one input blob');
  const axis = onnxAxis(ctx, ctx.params.int(0, 0));
  const first = inputs[0]!;
  const key = (['c', 'h', 'w'] as const)[axis - 1]!;
  for (const x of inputs.slice(1)) {
    for (const k of ['c', 'h', 'w'] as const) {
      if (k === key) continue;
      const same = k === 'c' ? x.c === first.c : x[k].every((v, i) => v === first[k][i]);
      if (!same) ctx.fail(`concatenates blobs of different ${k === 'c' ? 'channels' : k === 'h' ? 'heights' : 'widths'} along axis ${axis - 1}`);
    }
  }
  ctx.node('Concat', inputs.map((x) => x.name), [ctx.top()], { axis: attr.int(axis) });
  const out: Blob = { ...first, name: ctx.top() };
  if (key === 'c') out.c = inputs.reduce((a, x) => a + x.c, 0);
  else out[key] = first[key].map((_, i) => inputs.reduce((a, x) => a + x[key][i]!, 0));
  return [out];
};

/**
 * ncnn PixelShuffle (0 = factor r, 1 = mode). Mode 0 reads input channel p*r*r + sh*r + sw for output
 * channel p at sub-pixel (sh, sw): PyTorch's pixel_shuffle, ONNX DepthToSpace CRD. Mode 1 reads
 * (sh*r + sw)*outc + p: DepthToSpace DCR.
 */
const pixelShuffle: LayerConverter = (ctx, inputs) => {
  expectInputs(ctx, inputs, 1);
  const x = inputs[0]!;
  const r = ctx.params.int(0, 1);
  const mode = ctx.params.int(1, 0);
  if (r < 1) ctx.fail(`upscale factor ${r} (0=) must be positive`);
  if (mode !== 0 && mode !== 1) ctx.fail(`mode ${mode} (1=) is unknown; ncnn has 0 (CRD) and 1 (DCR)`);
  if (x.c % (r * r) !== 0) ctx.fail(`${x.c} channels do not divide by ${r}x${r}`);
  ctx.node('DepthToSpace', [x.name], [ctx.top()], { blocksize: attr.int(r), mode: attr.string(mode === 0 ? 'CRD' : 'DCR') });
  return [{ name: ctx.top(), c: x.c / (r * r), h: x.h.map((v) => v * r), w: x.w.map((v) => v * r) }];
};

/**
 * ncnn Interp (src/layer/interp.cpp): 0 = resize type (1 nearest, 2 bilinear, 3 bicubic), 1/2 = height/width
 * scale, 3/4 = output height/width, 6 = align_corner. Nearest reads floor(x / scale) (ONNX asymmetric +
 * floor); bilinear and bicubic (a = -0.75, edge-clamped) sample at (x + 0.5) * in/out - 0.5 (half_pixel), or
 * x * (in-1)/(out-1) with align_corner.
 */
const interp: LayerConverter = (ctx, inputs) => {
  expectInputs(ctx, inputs, 1);
  const x = inputs[0]!;
  const p = ctx.params;
  const type = p.int(0, 0);
  if (p.int(5, 0) !== 0) ctx.fail('takes its output size from a second blob (5=dynamic_target_size), which srq does not support');
  if (p.string(9, '') !== '') ctx.fail('computes its size from an expression (9=), which srq does not support');
  const hScale = p.float(1, 1);
  const wScale = p.float(2, 1);
  const outH = p.int(3, 0);
  const outW = p.int(4, 0);
  const alignCorner = p.int(6, 0) !== 0;
  const attrs: Record<string, AttributeProto> = {};
  if (type === 1) {
    attrs.mode = attr.string('nearest');
    attrs.coordinate_transformation_mode = attr.string('asymmetric');
    attrs.nearest_mode = attr.string('floor');
  } else if (type === 2 || type === 3) {
    attrs.mode = attr.string(type === 2 ? 'linear' : 'cubic');
    attrs.coordinate_transformation_mode = attr.string(alignCorner ? 'align_corners' : 'half_pixel');
    if (type === 3) {
      attrs.cubic_coeff_a = attr.float(-0.75);
      attrs.exclude_outside = attr.int(0);
    }
  } else ctx.fail(`resize type ${type} (0=) is unknown; ncnn has 1 nearest, 2 bilinear, 3 bicubic`);

  if (outH > 0 && outW > 0) {
    // A fixed output size: sizes = [n, c] of the input, then [outH, outW].
    const shape = ctx.temp('shape');
    const sizes = ctx.temp('sizes');
    ctx.node('Shape', [x.name], [shape], { end: attr.int(2) });
    ctx.node('Concat', [shape, ctx.int64s([outH, outW])], [sizes], { axis: attr.int(0) });
    ctx.node('Resize', [x.name, '', '', sizes], [ctx.top()], attrs);
    return [{ name: ctx.top(), c: x.c, h: x.h.map(() => outH), w: x.w.map(() => outW) }];
  }
  if (!(hScale > 0 && wScale > 0)) ctx.fail(`scales ${hScale}, ${wScale} (1=, 2=) must be positive`);
  // ncnn's output size is (int)(w * scale) in float32, as ONNX's floor(w * scale). Nearest then reads
  // floor(x / scale), as ONNX does with `scales`. Bilinear and bicubic sample with in/out, not 1/scale: the
  // same for integer scales; for others the graph computes the output size and passes `sizes`.
  const integral = Number.isInteger(hScale) && Number.isInteger(wScale);
  if (type === 1 || integral) {
    const scales = ctx.weight('scales', [4], new Float32Array([1, 1, hScale, wScale]));
    ctx.node('Resize', [x.name, '', scales], [ctx.top()], attrs);
  } else {
    const [nc, hw, hwF, scaled, floored, hwOut, sizes] = ['nc', 'hw', 'hw_f', 'hw_scaled', 'hw_floor', 'hw_out', 'sizes'].map((n) => ctx.temp(n)) as [string, string, string, string, string, string, string];
    ctx.node('Shape', [x.name], [nc], { end: attr.int(2) });
    ctx.node('Shape', [x.name], [hw], { start: attr.int(2) });
    ctx.node('Cast', [hw], [hwF], { to: attr.int(1) });
    ctx.node('Mul', [hwF, ctx.weight('scales', [2], new Float32Array([hScale, wScale]))], [scaled]);
    ctx.node('Floor', [scaled], [floored]);
    ctx.node('Cast', [floored], [hwOut], { to: attr.int(7) });
    ctx.node('Concat', [nc, hwOut], [sizes], { axis: attr.int(0) });
    ctx.node('Resize', [x.name, '', '', sizes], [ctx.top()], attrs);
  }
  const size = (v: number, s: number) => Math.floor(Math.fround(v * s));
  return [{ name: ctx.top(), c: x.c, h: x.h.map((v) => size(v, hScale)), w: x.w.map((v) => size(v, wScale)) }];
};

/**
 * ncnn Crop (src/layer/crop.cpp), three forms on a [c, h, w] blob:
 * - offsets 0/1/2 (w, h, c) with sizes 3/4/5 (-233 = all, absent = 0 = empty) and end offsets 6/7/8;
 * - numpy slices 9/10/11 (starts, ends, axes; -233 = open end; an end <= 0 counts from the end);
 * - a second input blob whose size is the output's, at offsets 0/1/2.
 */
const crop: LayerConverter = (ctx, inputs) => {
  const p = ctx.params;
  const x = inputs[0];
  if (!x) ctx.fail('needs an input blob');
  if (p.string(19, '') || p.string(20, '') || p.string(21, '')) ctx.fail('crops by expressions (19=..21=), which srq does not support');
  const dims = { c: [x.c], h: x.h, w: x.w };
  const out: Blob = { ...x, name: ctx.top() };
  const starts: number[] = [];
  const ends: number[] = [];
  const axes: number[] = [];
  const cut = (axis: 1 | 2 | 3, start: number, end: number, size: (v: number) => number) => {
    const key = (['c', 'h', 'w'] as const)[axis - 1]!;
    const sizes = dims[key].map(size);
    if (sizes.some((v) => v <= 0)) ctx.fail('crops everything away for the probe input sizes');
    if (key === 'c') out.c = sizes[0]!;
    else out[key] = sizes;
    starts.push(start);
    ends.push(end);
    axes.push(axis);
  };

  if (inputs.length === 2) {
    const ref = inputs[1]!;
    const off = [p.int(2, 0), p.int(1, 0), p.int(0, 0)];
    if (off.some((v) => v < 0)) ctx.fail('centres the crop (-233 offsets), which srq does not support');
    const shape = ctx.temp('ref_shape');
    const endsName = ctx.temp('ends');
    ctx.node('Shape', [ref.name], [shape], { start: attr.int(1) });
    ctx.node('Add', [shape, ctx.int64s(off)], [endsName]);
    ctx.node('Slice', [x.name, ctx.int64s(off), endsName, ctx.int64s([1, 2, 3])], [ctx.top()]);
    const fits = (have: number[], want: number[], o: number) => want.every((v, i) => o + v <= have[i]!);
    if (!fits([x.c], [ref.c], off[0]!) || !fits(x.h, ref.h, off[1]!) || !fits(x.w, ref.w, off[2]!)) {
      ctx.fail('reference blob plus offsets is larger than the input');
    }
    return [{ name: ctx.top(), c: ref.c, h: ref.h, w: ref.w }];
  }
  expectInputs(ctx, inputs, 1);

  const npStarts = p.array(9);
  const npEnds = p.array(10);
  if (npStarts.length > 0 && npEnds.length > 0) {
    const npAxes = p.array(11, [0, 1, 2]);
    if (npStarts.length < npAxes.length || npEnds.length < npAxes.length) ctx.fail('has fewer starts/ends (9=, 10=) than axes (11=)');
    npAxes.forEach((a, i) => {
      const axis = onnxAxis(ctx, a) as 1 | 2 | 3;
      let s = npStarts[i]!;
      let e = npEnds[i]!;
      if (s === -233) s = 0;
      const open = e === -233 || e === 0;
      if (e === -233) e = INT64_MAX;
      const size = (v: number) => {
        const s0 = s >= 0 ? s : v + s;
        const e0 = e === INT64_MAX ? v : Math.min(v, e > 0 ? e : v + e);
        return e0 - s0;
      };
      cut(axis, s, open ? INT64_MAX : e, size);
    });
  } else {
    // ncnn reads absent sizes as 0 and then makes an empty blob; -233 keeps the whole axis.
    const forms: [1 | 2 | 3, string, number, number, number][] = [
      [1, '5=outc', p.int(2, 0), p.int(5, 0), p.int(8, 0)],
      [2, '4=outh', p.int(1, 0), p.int(4, 0), p.int(7, 0)],
      [3, '3=outw', p.int(0, 0), p.int(3, 0), p.int(6, 0)],
    ];
    if (forms.every(([, , , size, off2]) => size === 0 && off2 === 0)) {
      ctx.fail('has no output sizes (3=, 4=, 5=) nor end offsets, so ncnn takes its size from a second input blob, which the .param does not give');
    }
    for (const [axis, what, off, size, off2] of forms) {
      if (size === 0) ctx.fail(`leaves ${what} at 0, for which ncnn makes an empty blob; write -233 to keep the whole axis`);
      if (off === 0 && size === -233 && off2 === 0) continue;
      if (off < 0 || off2 < 0) ctx.fail(`offsets ${off}, ${off2} must not be negative`);
      if (size !== -233 && off2 !== 0) ctx.fail('sets both an output size and an end offset on one axis, which needs a dynamic min');
      const end = size !== -233 ? off + size : off2 > 0 ? -off2 : INT64_MAX;
      cut(axis, off, end, (v) => Math.min(size === -233 ? Infinity : size, v - off - off2));
    }
  }
  if (axes.length === 0) return [x];
  ctx.node('Slice', [x.name, ctx.int64s(starts), ctx.int64s(ends), ctx.int64s(axes)], [ctx.top()]);
  return [out];
};

/** ncnn Padding: 0..3 top/bottom/left/right, 4 type (0 constant, 1 replicate, 2 reflect), 5 value, 7/8 channels. */
const padding: LayerConverter = (ctx, inputs) => {
  expectInputs(ctx, inputs, 1);
  const x = inputs[0]!;
  const p = ctx.params;
  const [top, bottom, left, right, front, behind] = [p.int(0, 0), p.int(1, 0), p.int(2, 0), p.int(3, 0), p.int(7, 0), p.int(8, 0)];
  const type = p.int(4, 0);
  const value = p.float(5, 0);
  if (p.int(6, 0) !== 0) ctx.fail('pads with per-channel values (6=per_channel_pad_data_size), which srq does not support');
  if ([top, bottom, left, right, front, behind].some((v) => v < 0)) ctx.fail('has negative pads');
  const mode = ({ 0: 'constant', 1: 'edge', 2: 'reflect' } as Record<number, string>)[type];
  if (!mode) ctx.fail(`type ${type} (4=) is unknown; ncnn has 0 constant, 1 replicate, 2 reflect`);
  const ins = [x.name, ctx.int64s([0, front, top, left, 0, behind, bottom, right])];
  if (mode === 'constant') ins.push(ctx.scalar(value));
  ctx.node('Pad', ins, [ctx.top()], { mode: attr.string(mode) });
  return [{ name: ctx.top(), c: x.c + front + behind, h: x.h.map((v) => v + top + bottom), w: x.w.map((v) => v + left + right) }];
};

/**
 * ncnn Pooling: 0 type (0 max, 1 avg), 1/11 kernel, 2/12 stride, 3/14/13/15 pads, 4 global, 5 pad mode
 * (0 full = ceil, 1 valid = floor, 2 SAME_UPPER, 3 SAME_LOWER), 6 avg counts pads, 7 adaptive.
 */
const pooling: LayerConverter = (ctx, inputs) => {
  expectInputs(ctx, inputs, 1);
  const x = inputs[0]!;
  const p = ctx.params;
  const type = p.int(0, 0);
  if (type !== 0 && type !== 1) ctx.fail(`pooling type ${type} (0=) is unknown; ncnn has 0 max, 1 avg`);
  const global = p.int(4, 0) !== 0;
  const adaptive = p.int(7, 0) !== 0;
  const outW = p.int(8, 0);
  if (global || (adaptive && outW === 1 && p.int(18, outW) === 1)) {
    ctx.node(type === 0 ? 'GlobalMaxPool' : 'GlobalAveragePool', [x.name], [ctx.top()]);
    return [{ name: ctx.top(), c: x.c, h: x.h.map(() => 1), w: x.w.map(() => 1) }];
  }
  if (adaptive) ctx.fail('is adaptive to a size other than 1x1, which srq does not support');
  const kw = p.int(1, 0), kh = p.int(11, kw), sw = p.int(2, 1), sh = p.int(12, sw);
  const pl = p.int(3, 0), pr = p.int(14, pl), pt = p.int(13, pl), pb = p.int(15, pt);
  const padMode = p.int(5, 0);
  const countPad = p.int(6, 0) !== 0;
  if (kw <= 0 || kh <= 0 || sw <= 0 || sh <= 0) ctx.fail('kernel and stride must be positive');
  const attrs: Record<string, AttributeProto> = { kernel_shape: attr.ints([kh, kw]), strides: attr.ints([sh, sw]) };
  let size: (v: number, k: number, s: number, a: number, b: number) => number;
  if (padMode === 2 || padMode === 3) {
    attrs.auto_pad = attr.string(padMode === 2 ? 'SAME_UPPER' : 'SAME_LOWER');
    size = (v, _k, s) => Math.ceil(v / s);
  } else if (padMode === 0 || padMode === 1) {
    attrs.pads = attr.ints([pt, pl, pb, pr]);
    if (padMode === 0) attrs.ceil_mode = attr.int(1);
    const round = padMode === 0 ? Math.ceil : Math.floor;
    size = (v, k, s, a, b) => round((v + a + b - k) / s) + 1;
  } else return ctx.fail(`pad mode ${padMode} (5=) is unknown; ncnn has 0 full, 1 valid, 2 SAME_UPPER, 3 SAME_LOWER`);
  if (type === 1) attrs.count_include_pad = attr.int(countPad ? 1 : 0);
  // ncnn's full mode pads the tail up to a whole stride and, counting pads, divides by the whole kernel;
  // ONNX's ceil mode leaves the tail out of the count. They agree at stride 1, where there is no tail.
  if (type === 1 && countPad && padMode === 0 && (sw > 1 || sh > 1)) {
    ctx.fail('averages with pads counted (6=1) in full pad mode (5=0) at stride > 1, which ONNX AveragePool counts differently');
  }
  ctx.node(type === 0 ? 'MaxPool' : 'AveragePool', [x.name], [ctx.top()], attrs);
  return [{ name: ctx.top(), c: x.c, h: x.h.map((v) => size(v, kh, sh, pt, pb)), w: x.w.map((v) => size(v, kw, sw, pl, pr)) }];
};

export const structureLayers: Record<string, LayerConverter> = {
  Split: alias,
  Noop: alias,
  Dropout: dropout,
  Concat: concat,
  PixelShuffle: pixelShuffle,
  Interp: interp,
  Crop: crop,
  Padding: padding,
  Pooling: pooling,
};
