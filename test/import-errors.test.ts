// Bad input must fail with the importer's own error classes and messages that name the problem and a fix.
import { beforeAll, describe, expect, it } from 'vitest';
import { KerasModelError, KerasWeightsError, SrContractError, UnsupportedLayerError } from '../src-core/import/errors.ts';
import { convertKerasLayers, importKerasLayers } from '../src-core/import/keras-layers.ts';
import type { LayersModelJson } from '../src-core/import/keras-topology.ts';
import { saveLayersModel, tf, tfReady } from './fixtures/import/tf-helpers.ts';

beforeAll(tfReady);

type Config = { layers: { class_name: string; config: Record<string, unknown> }[] };

async function saved(build: (inp: tf.SymbolicTensor) => tf.SymbolicTensor, channels = 3) {
  const inp = tf.input({ shape: [null, null, channels] });
  return saveLayersModel(tf.model({ inputs: inp, outputs: build(inp) }));
}

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('UnsupportedLayerError', () => {
  it('names the layer, its class and the supported classes', async () => {
    const { modelJson, weights } = await saved((x) => tf.layers.batchNormalization({ name: 'bn_1' }).apply(x) as tf.SymbolicTensor);
    const e = catchError(() => importKerasLayers(modelJson, weights));
    expect(e).toBeInstanceOf(UnsupportedLayerError);
    expect(e.name).toBe('UnsupportedLayerError');
    expect((e as UnsupportedLayerError).layerName).toBe('bn_1');
    expect((e as UnsupportedLayerError).className).toBe('BatchNormalization');
    expect(e.message).toContain("layer 'bn_1' has class BatchNormalization");
    for (const cls of ['Conv2D', 'Concatenate', 'Add', 'UpSampling2D', 'PixelShuffle<N>x', 'MultiplyBeta']) expect(e.message).toContain(cls);
    expect(e.message.split('\n')).toHaveLength(1);
  });

  it('for an unsupported activation, names the activation', async () => {
    const { modelJson, weights } = await saved((x) => tf.layers.activation({ activation: 'softmax', name: 'sm' }).apply(x) as tf.SymbolicTensor);
    const e = catchError(() => convertKerasLayers(modelJson, weights));
    expect(e).toBeInstanceOf(UnsupportedLayerError);
    expect(e.message).toMatch(/layer 'sm' \(Activation\): activation "softmax" is not supported \(supported: linear, relu/);
  });

  it('for channels_first convolutions', async () => {
    const { modelJson, weights } = await saved((x) => tf.layers.conv2d({ filters: 2, kernelSize: 3, name: 'c' }).apply(x) as tf.SymbolicTensor);
    (modelJson.modelTopology.config as Config).layers[1]!.config.data_format = 'channels_first';
    expect(() => convertKerasLayers(modelJson, weights)).toThrow(/layer 'c' \(Conv2D\): data_format 'channels_first' is not supported/);
  });
});

describe('malformed model.json and weights', () => {
  it('rejects a TF.js graph model, pointing at layers models', () => {
    const graphModel = { format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] };
    const e = catchError(() => importKerasLayers(graphModel, new ArrayBuffer(0)));
    expect(e).toBeInstanceOf(KerasModelError);
    expect(e.message).toContain('graph model, not a layers model');
  });

  it('rejects JSON that is not a model', () => {
    expect(() => importKerasLayers({ hello: 'world' }, new ArrayBuffer(0))).toThrow(KerasModelError);
    expect(() => importKerasLayers([] as unknown as object, new ArrayBuffer(0))).toThrow(/not a JSON object/);
  });

  it('reports weights the manifest does not have', async () => {
    const { modelJson, weights } = await saved((x) => tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'c1' }).apply(x) as tf.SymbolicTensor);
    modelJson.weightsManifest[0]!.weights[0]!.name = 'renamed/kernel';
    const e = catchError(() => importKerasLayers(modelJson, weights));
    expect(e).toBeInstanceOf(KerasWeightsError);
    expect(e.message).toContain('weight c1/kernel');
  });

  it('reports truncated and oversized weight data', async () => {
    const { modelJson, weights } = await saved((x) => tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor);
    expect(() => importKerasLayers(modelJson, weights.slice(0, weights.byteLength - 4))).toThrow(/missing or truncated/);
    const longer = new Uint8Array(weights.byteLength + 8);
    longer.set(new Uint8Array(weights));
    expect(() => importKerasLayers(modelJson, longer.buffer)).toThrow(/do not belong to this model.json/);
  });

  it('reports non-float weights', async () => {
    const { modelJson, weights } = await saved((x) => tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor);
    modelJson.weightsManifest[0]!.weights[1]!.dtype = 'int32';
    expect(() => importKerasLayers(modelJson, weights)).toThrow(KerasWeightsError);
  });

  it('rejects a model with two inputs', async () => {
    const a = tf.input({ shape: [null, null, 3] });
    const b = tf.input({ shape: [null, null, 3] });
    const { modelJson, weights } = await saveLayersModel(tf.model({ inputs: [a, b], outputs: tf.layers.add().apply([a, b]) as tf.SymbolicTensor }));
    expect(() => importKerasLayers(modelJson, weights)).toThrow(/2 inputs and 1 outputs; srq import needs one of each/);
  });
});

describe('SrContractError', () => {
  it('for a model that is not 3 -> 3 channels', async () => {
    const { modelJson, weights } = await saved((x) => tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor);
    expect(() => importKerasLayers(modelJson, weights)).toThrow(SrContractError);
    expect(() => importKerasLayers(modelJson, weights)).toThrow(/maps 3 to 4 channels/);
  });

  it('for a model whose output is not an integer multiple of its input', async () => {
    const { modelJson, weights } = await saved((x) => tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'valid' }).apply(x) as tf.SymbolicTensor);
    expect(() => importKerasLayers(modelJson, weights)).toThrow(/not an integer multiple of the input size/);
    // The generic converter still takes it: the contract is importKerasLayers's.
    expect(convertKerasLayers(modelJson as LayersModelJson, weights).output.channels).toBe(3);
  });
});
