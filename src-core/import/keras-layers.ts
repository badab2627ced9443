// TF.js Keras-layers model -> ONNX (NCHW). Runtime-agnostic: takes the parsed model.json and the weight
// bytes; reading files is tfjs-files.ts's job.
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/build.ts';
import { DataType, makeTensor } from '../onnx/tensor.ts';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../onnx/types.ts';
import { KerasModelError, KerasWeightsError, SrContractError, UnsupportedLayerError } from './errors.ts';
import { asLayersModelJson, readTopology } from './keras-topology.ts';
import type { KerasLayer, KerasTopology, TensorKey } from './keras-topology.ts';
import { emitterFor, supportedLayerClasses } from './layers.ts';
import type { ImageTensor, LayerScope } from './layers.ts';
import { decodeWeights } from './tfjs-weights.ts';
import type { KerasWeight } from './tfjs-weights.ts';
import { inferPixelRange } from './upscalerjs.ts';

export { UnsupportedLayerError } from './errors.ts';

export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'output';

/** Spatial input sizes the shape tracking runs with; the scale must come out the same for all of them. */
const PROBE_H = [48, 64];
const PROBE_W = [40, 72];

export interface ConvertOptions {
  /** Multiply the image by this before the first layer (255 for models that take 0..255). Default 1. */
  inputScale?: number;
  /** Multiply the Keras output by this (1/255 for models that give 0..255). Default 1. */
  outputScale?: number;
  /** Clip the (scaled) output to [min, max]. */
  clip?: [number, number];
}

export interface ConvertedGraph {
  graph: GraphProto;
  /** Channels of the graph input / output; spatial sizes per probe input size. */
  input: ImageTensor;
  output: ImageTensor;
  /** Number of weight values (Keras's parameter count). */
  params: number;
  /** Whether inputScale / outputScale went into conv weights (true) or became Mul nodes (false). */
  folded: { input: boolean; output: boolean };
  /** Manifest weights no layer used (a sign of a layer that ignores its weights; expected empty). */
  unusedWeights: string[];
}

const keyString = (k: TensorKey) => `${k.layer}:${k.node}:${k.tensor}`;

/**
 * The ONNX graph of a Keras layers model with one image input and one image output. The input becomes
 * `input` [1, C, h, w] (h, w symbolic), the output `output`; Keras NHWC semantics are kept (kernels are
 * transposed, axes remapped).
 */
export function convertKerasLayers(modelJson: unknown, weightData: ArrayBuffer, opts: ConvertOptions = {}): ConvertedGraph {
  const json = asLayersModelJson(modelJson);
  const topology = readTopology(json.modelTopology);
  const weights = decodeWeights(json.weightsManifest, weightData);
  return new Converter(topology, weights, opts).run();
}

export interface ImportOptions {
  name?: string;
  /** Where the model came from, e.g. "@upscalerjs/esrgan-slim@1.0.0/models/x2/model.json". */
  source?: string;
  /** The pixel range the Keras model works in; default: UpscalerJS's rule (see inferPixelRange). */
  pixelRange?: 1 | 255;
}

export interface ImportResult {
  model: ModelProto;
  scale: number;
}

/**
 * An srq SR model from a Keras layers model: input [1,3,h,w] RGB in [0,1], output [1,3,s*h,s*w] clipped to
 * [0,1], metadata srq.scale / srq.name / srq.source. A model working in 0..255 gets the x255 and /255
 * folded into its first and last convolutions (or Mul nodes where folding is not exact). The pixel range
 * cannot be read from model.json: for models from outside UpscalerJS, pass it.
 */
export function importKerasLayers(modelJson: object, weights: ArrayBuffer, opts: ImportOptions = {}): ImportResult {
  const json = asLayersModelJson(modelJson);
  const topology = readTopology(json.modelTopology);
  const range = opts.pixelRange ?? inferPixelRange(topology);
  const converted = new Converter(topology, decodeWeights(json.weightsManifest, weights), {
    inputScale: range,
    outputScale: 1 / range,
    clip: [0, 1],
  }).run();
  const { input, output } = converted;
  if (input.channels !== 3 || output.channels !== 3) {
    throw new SrContractError(
      `the model maps ${input.channels} to ${output.channels} channels; srq SR models map RGB to RGB (3 to 3)`,
    );
  }
  const scale = output.h[0]! / input.h[0]!;
  const consistent = [...output.h.map((v, i) => v / input.h[i]!), ...output.w.map((v, i) => v / input.w[i]!)];
  if (!Number.isInteger(scale) || scale < 1 || consistent.some((s) => s !== scale)) {
    throw new SrContractError(
      `the output is not an integer multiple of the input size (inputs ${input.h.join('/')}x${input.w.join('/')} ` +
        `give ${output.h.join('/')}x${output.w.join('/')}); srq SR models upscale by one integer factor`,
    );
  }
  const name = opts.name ?? topology.name;
  const metadata: Record<string, string> = { 'srq.scale': String(scale), 'srq.name': name };
  if (opts.source !== undefined) metadata['srq.source'] = opts.source;
  const scaling = converted.folded.input && converted.folded.output ? 'folded into the first and last convolutions' : 'done in the graph';
  converted.graph.docString =
    `Imported by srq from the TF.js Keras layers model '${topology.name}', which works in 0..${range}` +
    (range === 1 ? '' : ` (input x${range} and output /${range} ${scaling})`) +
    '; output clipped to [0, 1].';
  return { model: makeModel(converted.graph, { metadata }), scale };
}

class Converter {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers = new Map<string, TensorProto>();
  private readonly constantNames = new Map<string, string>();
  private readonly names = new Set<string>();
  private readonly tensors = new Map<string, ImageTensor>();
  private readonly inProgress = new Set<string>();
  private readonly layers: Map<string, KerasLayer>;
  private readonly usedWeights = new Set<string>();

  constructor(
    private readonly topology: KerasTopology,
    private readonly weights: Map<string, KerasWeight>,
    private readonly opts: ConvertOptions,
  ) {
    this.layers = new Map(topology.layers.map((l) => [l.name, l]));
  }

  run(): ConvertedGraph {
    const { inputs, outputs } = this.topology;
    if (inputs.length !== 1 || outputs.length !== 1) {
      throw new KerasModelError(`the model has ${inputs.length} inputs and ${outputs.length} outputs; srq import needs one of each`);
    }
    const inputKey = inputs[0]!;
    const outputKey = outputs[0]!;
    const inputScale = this.opts.inputScale ?? 1;
    const outputScale = this.opts.outputScale ?? 1;
    const folded = {
      input: inputScale === 1 || this.foldInputScale(inputKey, inputScale),
      output: outputScale === 1 || this.foldOutputScale(outputKey, outputScale),
    };
    const clip = this.opts.clip;
    // Reserved up front so no Keras layer (one may well be called "input") can take these names.
    this.names.add(INPUT_NAME).add(OUTPUT_NAME);

    const input = this.declareInput(inputKey, folded.input ? 1 : inputScale);
    // The last node writes the graph output: the output layer itself, or the post-processing after it.
    const hasPost = !folded.output || clip !== undefined;
    let output = this.tensorFor(outputKey, hasPost ? undefined : OUTPUT_NAME);
    if (!folded.output) {
      const out = clip ? this.unique(`${output.name}/scaled`) : OUTPUT_NAME;
      this.nodes.push(makeNode('Mul', [output.name, this.scalar('output_scale', outputScale)], [out], {}, out));
      output = { ...output, name: out };
    }
    if (clip) {
      const bounds = [this.scalar('clip_min', clip[0]), this.scalar('clip_max', clip[1])];
      this.nodes.push(makeNode('Clip', [output.name, ...bounds], [OUTPUT_NAME], {}, OUTPUT_NAME));
      output = { ...output, name: OUTPUT_NAME };
    }

    const inputInfo = makeValueInfo(INPUT_NAME, DataType.FLOAT, [1, input.channels, 'h', 'w']);
    const outputInfo = makeValueInfo(OUTPUT_NAME, DataType.FLOAT, [
      1,
      output.channels,
      spatialDim('h', input.h, output.h),
      spatialDim('w', input.w, output.w),
    ]);
    const graph = makeGraph({
      name: this.topology.name,
      nodes: this.nodes,
      inputs: [inputInfo],
      outputs: [outputInfo],
      initializers: [...this.initializers.values()],
    });
    const params = [...this.weights.values()].reduce((a, w) => a + w.values.length, 0);
    const unusedWeights = [...this.weights.keys()].filter((n) => !this.usedWeights.has(n));
    return { graph, input: { ...input, name: INPUT_NAME }, output, params, folded, unusedWeights };
  }

  private declareInput(key: TensorKey, scale: number): ImageTensor {
    const layer = this.layers.get(key.layer)!;
    if (layer.className !== 'InputLayer') throw new KerasModelError(`the model input '${key.layer}' is a ${layer.className}, not an InputLayer`);
    const shape = layer.config.batch_input_shape ?? layer.config.batchInputShape;
    if (!Array.isArray(shape) || shape.length !== 4 || typeof shape[3] !== 'number') {
      throw new KerasModelError(
        `input '${layer.name}' has shape ${JSON.stringify(shape)}; srq import needs an NHWC image input [batch, h, w, channels] with known channels`,
      );
    }
    let name = INPUT_NAME;
    if (scale !== 1) {
      name = this.unique(`${INPUT_NAME}/scaled`);
      this.nodes.push(makeNode('Mul', [INPUT_NAME, this.scalar('input_scale', scale)], [name], {}, name));
    }
    const tensor: ImageTensor = { name, channels: shape[3], h: PROBE_H, w: PROBE_W };
    this.tensors.set(keyString(key), tensor);
    return { ...tensor, name: INPUT_NAME };
  }

  /** Emits the layer call producing `key` (and, first, everything it depends on). */
  private tensorFor(key: TensorKey, outputName?: string): ImageTensor {
    const id = keyString(key);
    const done = this.tensors.get(id);
    if (done) return done;
    const layer = this.layers.get(key.layer)!;
    if (layer.className === 'InputLayer') throw new KerasModelError(`the model reads InputLayer '${layer.name}', which is not its declared input`);
    const call = layer.calls[key.node];
    if (!call) throw new KerasModelError(`model.json refers to call ${key.node} of layer '${layer.name}', which has ${layer.calls.length}`);
    if (key.tensor !== 0) throw new UnsupportedLayerError(layer.name, layer.className, supportedLayerClasses, 'layers with several outputs are not supported');
    if (this.inProgress.has(id)) throw new KerasModelError(`the model graph has a cycle through layer '${layer.name}'`);
    this.inProgress.add(id);
    const inputs = call.map((k) => this.tensorFor(k));
    this.inProgress.delete(id);

    const emit = emitterFor(layer.className);
    if (!emit) throw new UnsupportedLayerError(layer.name, layer.className, supportedLayerClasses);
    const out = outputName ?? this.unique(key.node === 0 ? layer.name : `${layer.name}/call${key.node}`);
    const tensor = emit(this.scope(layer, out), inputs, out);
    this.tensors.set(id, tensor);
    return tensor;
  }

  private scope(layer: KerasLayer, out: string): LayerScope {
    // One name per suffix within a layer call: emitters name a tensor once as output, again as input.
    const tmps = new Map<string, string>();
    return {
      layer,
      weight: (param) => this.weight(layer, param),
      constant: (suffix, dims, values) => this.constant(`${layer.name}/${suffix}`, dims, values),
      scalar: (suffix, value) => this.scalar(`${layer.name}/${suffix}`, value),
      tmp: (suffix) => tmps.get(suffix) ?? tmps.set(suffix, this.unique(`${out}/${suffix}`)).get(suffix)!,
      add: (...nodes) => {
        for (const n of nodes) if (!n.name) n.name = n.output?.[0] ?? '';
        this.nodes.push(...nodes);
      },
      fail: (detail) => {
        throw new UnsupportedLayerError(layer.name, layer.className, supportedLayerClasses, detail);
      },
    };
  }

  private weight(layer: KerasLayer, param: string): KerasWeight {
    const exact = `${layer.name}/${param}`;
    let found = this.weights.get(exact);
    if (!found) {
      // Converters sometimes prefix the model scope ("generator/F_0/kernel"); accept one unambiguous match.
      const matches = [...this.weights.keys()].filter((n) => n.endsWith(`/${exact}`));
      if (matches.length === 1) found = this.weights.get(matches[0]!);
    }
    if (!found) throw new KerasWeightsError(`weight ${exact} of layer '${layer.name}' is not in weightsManifest; the model.json and shards do not match`);
    this.usedWeights.add(found.name);
    return found;
  }

  /** Scales the kernels of the input's consumers, when every consumer is a single-use Conv2D (exact: 'same' pads zeros). */
  private foldInputScale(inputKey: TensorKey, scale: number): boolean {
    const consumers = this.topology.layers.filter((l) => l.calls.some((c) => c.some((k) => keyString(k) === keyString(inputKey))));
    if (consumers.length === 0 || !consumers.every((l) => l.className === 'Conv2D' && l.calls.length === 1)) return false;
    for (const l of consumers) this.scaleWeight(l, 'kernel', scale);
    return true;
  }

  /** Scales kernel and bias of the output layer, when it is a single-use linear Conv2D nothing else reads. */
  private foldOutputScale(outputKey: TensorKey, scale: number): boolean {
    const layer = this.layers.get(outputKey.layer)!;
    const linear = (layer.config.activation ?? 'linear') === 'linear';
    const readers = this.topology.layers.some((l) => l.calls.some((c) => c.some((k) => k.layer === layer.name)));
    if (layer.className !== 'Conv2D' || layer.calls.length !== 1 || !linear || readers) return false;
    this.scaleWeight(layer, 'kernel', scale);
    if (layer.config.use_bias ?? true) this.scaleWeight(layer, 'bias', scale);
    return true;
  }

  private scaleWeight(layer: KerasLayer, param: string, scale: number): void {
    const w = this.weight(layer, param);
    this.usedWeights.delete(w.name); // only emission counts as use
    this.weights.set(w.name, { ...w, values: w.values.map((v) => v * scale) });
  }

  /** An initializer; asking again for the same name (a layer called twice) reuses the first one. */
  private constant(name: string, dims: number[], values: Float32Array): string {
    let actual = this.constantNames.get(name);
    if (actual === undefined) {
      actual = this.unique(name);
      this.constantNames.set(name, actual);
      this.initializers.set(actual, makeTensor(actual, DataType.FLOAT, dims, values));
    }
    return actual;
  }

  private scalar(name: string, value: number): string {
    return this.constant(name, [], Float32Array.of(value));
  }

  /** Reserves a tensor name, suffixed (_2, _3, ...) if taken: two tensors sharing a name would rewire the graph. */
  private unique(name: string): string {
    let actual = name;
    for (let i = 2; this.names.has(actual); i++) actual = `${name}_${i}`;
    this.names.add(actual);
    return actual;
  }
}

/** 'h' when the size is kept, 'h*s' when scaled by an integer s, unknown otherwise. */
function spatialDim(symbol: string, input: number[], output: number[]): string | null {
  const ratio = output[0]! / input[0]!;
  if (!output.every((v, i) => v === ratio * input[i]!)) return null;
  if (ratio === 1) return symbol;
  return Number.isInteger(ratio) ? `${symbol}*${ratio}` : null;
}

export { supportedLayerClasses };
