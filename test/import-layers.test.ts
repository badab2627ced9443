// Each supported layer class, built as a small tf.layers model with seeded weights, saved the way TF.js
// saves it, imported, run on onnxruntime-node and compared with TF.js's own predict (within 1e-4).
import { beforeAll, describe, expect, it } from 'vitest';
import { convertKerasLayers, importKerasLayers } from '../src-core/import/keras-layers.ts';
import { UPSCALERJS_BETA } from '../src-core/import/layers.ts';
import { makeModel } from '../src-core/onnx/build.ts';
import { getMetadata } from '../src-core/onnx/model.ts';
import type { LayersModelJson } from '../src-core/import/keras-topology.ts';
import {
  maxAbsDiff, nchwToNhwc, nhwcToNchw, nodeModules, predictNhwc, randomValues, runOnnx, saveLayersModel, tf, tfReady,
} from './fixtures/import/tf-helpers.ts';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

beforeAll(tfReady);

/** Replaces every weight with seeded values in [-0.5, 0.5), so runs are reproducible. */
function seedWeights(model: tf.LayersModel, seed = 1): tf.LayersModel {
  model.setWeights(model.getWeights().map((w, i) => tf.tensor(randomValues(w.size, seed * 100 + i, -0.5, 0.5), w.shape)));
  return model;
}

interface Probe {
  h: number;
  w: number;
  lo?: number;
  hi?: number;
}

/** Imports `model`, runs both on each probe size, returns the largest difference seen. */
async function diffVsTf(model: tf.LayersModel, probes: Probe[], saved?: { modelJson: LayersModelJson; weights: ArrayBuffer }): Promise<number> {
  const { modelJson, weights } = saved ?? (await saveLayersModel(model));
  const converted = convertKerasLayers(modelJson, weights);
  expect(converted.unusedWeights).toEqual([]);
  const onnx = makeModel(converted.graph);
  const c = converted.input.channels;
  let worst = 0;
  for (const [i, p] of probes.entries()) {
    const x = randomValues(p.h * p.w * c, 7 + i, p.lo ?? 0, p.hi ?? 1);
    const ref = predictNhwc(model, x, [1, p.h, p.w, c]);
    const { data, dims } = await runOnnx(onnx, nhwcToNchw(x, p.h, p.w, c), [1, c, p.h, p.w]);
    const [, oc, oh, ow] = dims as [number, number, number, number];
    worst = Math.max(worst, maxAbsDiff(nchwToNhwc(data, oc, oh, ow), ref));
  }
  return worst;
}

const input = (c: number) => tf.input({ shape: [null, null, c] });
const functional = (inp: tf.SymbolicTensor, out: tf.SymbolicTensor) => seedWeights(tf.model({ inputs: inp, outputs: out }));
const conv = (args: Partial<Parameters<typeof tf.layers.conv2d>[0]>) => tf.layers.conv2d({ filters: 5, kernelSize: 3, ...args });

describe('Conv2D', () => {
  const cases: [string, Partial<Parameters<typeof tf.layers.conv2d>[0]>][] = [
    ['same, 3x3, relu inside', { padding: 'same', activation: 'relu' }],
    ['valid, 3x3', { padding: 'valid' }],
    ['valid, stride 2', { padding: 'valid', strides: 2 }],
    ['same, stride 2 (size-dependent asymmetric pads)', { padding: 'same', strides: 2 }],
    ['same, stride [1,3], kernel [2,5]', { padding: 'same', strides: [1, 3], kernelSize: [2, 5] }],
    ['same, even kernel 4x4 (pads more at the end)', { padding: 'same', kernelSize: 4 }],
    ['same, dilation 2', { padding: 'same', dilationRate: 2 }],
    ['valid, dilation [2,3]', { padding: 'valid', dilationRate: [2, 3] }],
    ['no bias, 1x1', { padding: 'valid', kernelSize: 1, useBias: false }],
  ];
  it.each(cases)('%s', async (_name, args) => {
    const inp = input(3);
    const model = functional(inp, conv(args).apply(inp) as tf.SymbolicTensor);
    // Odd and even sizes: 'same' with strides pads differently for each.
    expect(await diffVsTf(model, [{ h: 17, w: 20 }, { h: 16, w: 21 }])).toBeLessThanOrEqual(1e-4);
  });

  it('groups=2 (which tfjs cannot run) equals two half convolutions', async () => {
    // tfjs-layers ignores `groups`, so the reference is built from tf ops on the two channel halves.
    const inp = input(4);
    const model = functional(inp, conv({ padding: 'same', filters: 6 }).apply(inp) as tf.SymbolicTensor);
    const { modelJson } = await saveLayersModel(model);
    const layer = (modelJson.modelTopology.config as { layers: { class_name: string; config: Record<string, unknown> }[] }).layers[1]!;
    layer.config.groups = 2;
    const kernel = randomValues(3 * 3 * 2 * 6, 11, -0.5, 0.5);
    const bias = randomValues(6, 12, -0.5, 0.5);
    modelJson.weightsManifest[0]!.weights = [
      { name: `${String(layer.config.name)}/kernel`, shape: [3, 3, 2, 6], dtype: 'float32' },
      { name: `${String(layer.config.name)}/bias`, shape: [6], dtype: 'float32' },
    ];
    const packed = new Float32Array([...kernel, ...bias]);
    const onnx = makeModel(convertKerasLayers(modelJson, packed.buffer).graph);
    const [h, w] = [9, 11];
    const x = randomValues(h * w * 4, 13);
    const ref = tf.tidy(() => {
      const xt = tf.tensor4d(x, [1, h, w, 4]);
      const k = tf.tensor4d(kernel, [3, 3, 2, 6]);
      const halves = [0, 1].map((g) =>
        tf.conv2d(xt.slice([0, 0, 0, 2 * g], [1, h, w, 2]), k.slice([0, 0, 0, 3 * g], [3, 3, 2, 3]), 1, 'same'),
      );
      return tf.concat(halves, 3).add(tf.tensor1d(bias)).dataSync() as Float32Array;
    });
    const { data } = await runOnnx(onnx, nhwcToNchw(x, h, w, 4), [1, 4, h, w]);
    expect(maxAbsDiff(nchwToNhwc(data, 6, h, w), ref)).toBeLessThanOrEqual(1e-4);
  });
});

describe('activations', () => {
  const names = ['linear', 'relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'tanh', 'softplus', 'softsign', 'swish', 'mish'] as const;
  it.each(names)('%s, as an Activation layer and inside Conv2D', async (name) => {
    const inp = input(3);
    const a = tf.layers.activation({ activation: name }).apply(inp) as tf.SymbolicTensor;
    const b = conv({ padding: 'same', activation: name }).apply(a) as tf.SymbolicTensor;
    // Inputs in [-8, 8] reach every branch (relu6's cap, hard_sigmoid's clamps, elu's negative part).
    expect(await diffVsTf(functional(inp, b), [{ h: 6, w: 7, lo: -8, hi: 8 }])).toBeLessThanOrEqual(1e-4);
  });

  it('LeakyReLU(alpha) and ReLU(maxValue) layers', async () => {
    const inp = input(3);
    const a = tf.layers.leakyReLU({ alpha: 0.1 }).apply(inp) as tf.SymbolicTensor;
    const b = tf.layers.reLU({ maxValue: 0.5 }).apply(conv({ padding: 'same' }).apply(a) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const c = tf.layers.concatenate().apply([a, b, tf.layers.leakyReLU().apply(b) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    expect(await diffVsTf(functional(inp, c), [{ h: 6, w: 5, lo: -2, hi: 2 }])).toBeLessThanOrEqual(1e-4);
  });
});

describe('merging and resizing', () => {
  it.each([-1, 3, 1, 2])('Concatenate(axis=%i)', async (axis) => {
    const inp = input(3);
    const a = conv({ padding: 'same', filters: 3 }).apply(inp) as tf.SymbolicTensor;
    const out = tf.layers.concatenate({ axis }).apply([inp, a]) as tf.SymbolicTensor;
    expect(await diffVsTf(functional(inp, out), [{ h: 5, w: 8 }])).toBeLessThanOrEqual(1e-4);
  });

  it('Add of three inputs, and a layer shared by two calls', async () => {
    const inp = input(3);
    const shared = conv({ padding: 'same', filters: 3 });
    const once = shared.apply(inp) as tf.SymbolicTensor;
    const twice = shared.apply(once) as tf.SymbolicTensor;
    const out = tf.layers.add().apply([inp, once, twice]) as tf.SymbolicTensor;
    expect(await diffVsTf(functional(inp, out), [{ h: 7, w: 6 }])).toBeLessThanOrEqual(1e-4);
  });

  it.each([
    ['nearest', [2, 3]],
    ['nearest', [4, 4]],
    ['bilinear', [2, 2]],
    ['bilinear', [3, 2]],
  ] as const)('UpSampling2D %s %j', async (interpolation, size) => {
    const inp = input(3);
    const up = tf.layers.upSampling2d({ size: [...size], interpolation }).apply(inp) as tf.SymbolicTensor;
    const out = conv({ padding: 'same' }).apply(up) as tf.SymbolicTensor;
    expect(await diffVsTf(functional(inp, out), [{ h: 5, w: 7 }])).toBeLessThanOrEqual(1e-4);
    // And as the model's output, with nothing after it.
    expect(await diffVsTf(functional(inp, up), [{ h: 3, w: 4 }])).toBeLessThanOrEqual(1e-4);
  });

  it('a Sequential model (no explicit InputLayer)', async () => {
    const model = seedWeights(
      tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [null, null, 3] as unknown as number[], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
          tf.layers.upSampling2d({ size: [2, 2] }),
          tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }),
        ],
      }),
    );
    expect(await diffVsTf(model, [{ h: 6, w: 9 }])).toBeLessThanOrEqual(1e-4);
  });
});

describe('UpscalerJS custom layers (registered by @upscalerjs/esrgan-thick)', () => {
  // The package's own setup(tf) registers MultiplyBeta and PixelShuffle<s>x exactly as UpscalerJS does.
  const customClass = (name: string) => {
    const entry = tf.serialization.SerializationMap.getMap().classNameMap[name];
    if (!entry) throw new Error(`${name} is not registered`);
    return entry[0] as unknown as new (args: object) => tf.layers.Layer;
  };

  it.each([2, 3, 4, 8])('PixelShuffle%ix -> DepthToSpace (DCR) and MultiplyBeta -> Mul', async (scale) => {
    (require(`${nodeModules}/@upscalerjs/esrgan-thick/dist/cjs/models/esrgan-thick/src/x${scale}/cjs.js`) as { setup(t: typeof tf): void }).setup(tf);
    const inp = input(3);
    const pre = conv({ padding: 'same', filters: 3 * scale * scale }).apply(inp) as tf.SymbolicTensor;
    const beta = new (customClass('MultiplyBeta'))({}).apply(pre) as tf.SymbolicTensor;
    const shuffled = new (customClass(`PixelShuffle${scale}x`))({}).apply(beta) as tf.SymbolicTensor;
    const model = functional(inp, shuffled);
    const saved = await saveLayersModel(model);
    expect(JSON.stringify(saved.modelJson.modelTopology)).toContain(`"PixelShuffle${scale}x"`);
    expect(await diffVsTf(model, [{ h: 4, w: 5 }], saved)).toBeLessThanOrEqual(1e-4);
  });

  it('MultiplyBeta multiplies by the package constant 0.2', () => {
    expect(UPSCALERJS_BETA).toBe(0.2);
  });
});

describe('importKerasLayers on a small SR net', () => {
  /** conv -> PixelShuffle-free x2 net: conv, upsample, conv (3 -> 3 channels). */
  function tinySr(extraInputUse: boolean): tf.LayersModel {
    const inp = input(3);
    let x = conv({ padding: 'same', filters: 8, activation: 'relu' }).apply(inp) as tf.SymbolicTensor;
    x = conv({ padding: 'same', filters: 3 }).apply(x) as tf.SymbolicTensor;
    // A skip from the input into an Add means the x255 cannot be folded into the first conv alone.
    if (extraInputUse) x = tf.layers.add().apply([x, inp]) as tf.SymbolicTensor;
    x = tf.layers.upSampling2d({ size: [2, 2] }).apply(x) as tf.SymbolicTensor;
    return functional(inp, conv({ padding: 'same', filters: 3 }).apply(x) as tf.SymbolicTensor);
  }

  it.each([
    ['folded into the convs', false],
    ['as Mul nodes (input also feeds an Add)', true],
  ])('pixel range 255, scaling %s, matches clip(predict(255x)/255)', async (_name, extraInputUse) => {
    const model = tinySr(extraInputUse);
    const { modelJson, weights } = await saveLayersModel(model);
    const { model: onnx, scale } = importKerasLayers(modelJson, weights, { name: 'tiny', source: 'test', pixelRange: 255 });
    expect(scale).toBe(2);
    expect(getMetadata(onnx, 'srq.scale')).toBe('2');
    expect(getMetadata(onnx, 'srq.name')).toBe('tiny');
    expect(getMetadata(onnx, 'srq.source')).toBe('test');
    const ops = onnx.graph!.node!.map((n) => n.opType);
    expect(ops.at(-1)).toBe('Clip');
    expect(ops.includes('Mul')).toBe(extraInputUse);
    const [h, w] = [6, 5];
    const x = randomValues(h * w * 3, 21);
    const ref = tf.tidy(() => (model.predict(tf.tensor4d(x, [1, h, w, 3]).mul(255)) as tf.Tensor).div(255).clipByValue(0, 1).dataSync() as Float32Array);
    const { data, dims } = await runOnnx(onnx, nhwcToNchw(x, h, w, 3), [1, 3, h, w]);
    expect(dims).toEqual([1, 3, 2 * h, 2 * w]);
    expect(maxAbsDiff(nchwToNhwc(data, 3, 2 * h, 2 * w), ref)).toBeLessThanOrEqual(1e-4);
    // Seeded weights this large push many values past 0 and 1: the Clip is exercised.
    expect(ref.some((v) => v === 0) && ref.some((v) => v === 1)).toBe(true);
  });

  it('keeps Keras layers named "input" and "output" apart from the graph input and output', async () => {
    const inp = tf.input({ shape: [null, null, 3], name: 'input' });
    const a = conv({ padding: 'same', filters: 3, name: 'output' }).apply(inp) as tf.SymbolicTensor;
    const b = tf.layers.add({ name: 'input_scaled' }).apply([a, inp]) as tf.SymbolicTensor;
    const up = tf.layers.upSampling2d({ size: [3, 3] }).apply(b) as tf.SymbolicTensor;
    const model = functional(inp, conv({ padding: 'same', filters: 3 }).apply(up) as tf.SymbolicTensor);
    const { modelJson, weights } = await saveLayersModel(model);
    const { model: onnx, scale } = importKerasLayers(modelJson, weights, { pixelRange: 255 });
    expect(scale).toBe(3);
    const graph = onnx.graph!;
    expect(graph.input!.map((v) => v.name)).toEqual(['input']);
    expect(graph.output!.map((v) => v.name)).toEqual(['output']);
    const produced = graph.node!.flatMap((n) => n.output!);
    expect(new Set(produced).size).toBe(produced.length);
    const [h, w] = [4, 5];
    const x = randomValues(h * w * 3, 31);
    const ref = tf.tidy(() => (model.predict(tf.tensor4d(x, [1, h, w, 3]).mul(255)) as tf.Tensor).div(255).clipByValue(0, 1).dataSync() as Float32Array);
    const { data } = await runOnnx(onnx, nhwcToNchw(x, h, w, 3), [1, 3, h, w]);
    expect(maxAbsDiff(nchwToNhwc(data, 3, 3 * h, 3 * w), ref)).toBeLessThanOrEqual(1e-4);
  });
});
