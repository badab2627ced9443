// ncnn .param + .bin -> float32 ONNX (opset 17). Runtime-agnostic: takes the text and the bytes; files.node.ts
// reads them from disk. The graph computes what ncnn computes: no clipping, no range change (Real-ESRGAN's
// ncnn models take RGB in [0, 1] and give RGB in about [0, 1]).
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../onnx/build.ts';
import { DataType, makeTensor } from '../../onnx/tensor.ts';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto } from '../../onnx/types.ts';
import type { Blob, LayerContext } from './context.ts';
import { NcnnContractError, NcnnParamError, NcnnWeightsError, UnsupportedNcnnLayerError } from './errors.ts';
import { converterFor, supportedNcnnLayers } from './layers/index.ts';
import { parseNcnnParam } from './param.ts';
import type { NcnnLayer, NcnnParam } from './param.ts';
import { ModelBin } from './weights.ts';
import type { WeightStorage } from './weights.ts';

export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'output';

/** Spatial input sizes the shape tracking runs with; the scale must come out the same for all of them. */
const PROBE_H = [48, 64];
const PROBE_W = [40, 72];

export interface NcnnImportOptions {
  /** srq.name; default "ncnn-model". */
  name?: string;
  /** File names for messages. */
  paramSource?: string;
  binSource?: string;
}

export interface NcnnImportResult {
  model: ModelProto;
  /** The integer upscaling factor, worked out from the graph's shapes (not written as metadata). */
  scale: number;
  /** Number of ncnn layers and of weight values read. */
  layers: number;
  parameters: number;
  /** How the .bin stored the tagged weights (value counts). */
  storage: Record<WeightStorage, number>;
}

export interface ConvertedNcnn {
  graph: GraphProto;
  /** The input and output blobs: channels and spatial sizes for the probe input sizes. */
  input: Blob;
  output: Blob;
  layers: number;
  parameters: number;
  storage: Record<WeightStorage, number>;
}

/**
 * The ONNX graph of an ncnn model with one input and one output blob, without srq's SR checks (any channel
 * count out, any size change): `input` [1, 3, h, w] -> `output` [1, c, h', w']. importNcnn adds the checks.
 */
export function convertNcnn(paramText: string, bin: Uint8Array, opts: NcnnImportOptions = {}): ConvertedNcnn {
  const param = parseNcnnParam(paramText, opts.paramSource);
  const reader = new ModelBin(bin, opts.binSource);
  const { graph, input, output } = new Converter(param, reader, opts).run();
  const storage = { ...reader.storageCounts };
  const parameters = Object.values(storage).reduce((a, b) => a + b, 0);
  return { graph, input, output, layers: param.layers.length, parameters, storage };
}

/** Converts the text of a .param and the bytes of its .bin into an srq-contract float32 ONNX model. */
export function importNcnn(paramText: string, bin: Uint8Array, opts: NcnnImportOptions = {}): NcnnImportResult {
  const { graph, input, output, layers, parameters, storage } = convertNcnn(paramText, bin, opts);
  const scale = checkContract(input, output);
  graph.output = [makeValueInfo(OUTPUT_NAME, DataType.FLOAT, [1, 3, `${scale}*h`, `${scale}*w`])];
  // The file name only: a local path would leak into published artifacts and differ from machine to machine.
  const paramFile = opts.paramSource?.split(/[\\/]/).pop() ?? 'model.param';
  graph.docString =
    `Imported by srq from the ncnn model ${paramFile} (${layers} layers); ` +
    'computes what ncnn computes on RGB in [0, 1], output not clipped.';
  const name = opts.name ?? 'ncnn-model';
  const model = makeModel(graph, { metadata: { 'srq.source': 'ncnn', 'srq.name': name } });
  return { model, scale, layers, parameters, storage };
}

function checkContract(input: Blob, output: Blob): number {
  if (output.c !== 3) throw new NcnnContractError(`the model maps 3 to ${output.c} channels; srq SR models map RGB to RGB (3 to 3)`);
  const ratios = [...output.h.map((v, i) => v / input.h[i]!), ...output.w.map((v, i) => v / input.w[i]!)];
  const scale = ratios[0]!;
  if (!Number.isInteger(scale) || scale < 1 || ratios.some((r) => r !== scale)) {
    throw new NcnnContractError(
      `the output is not an integer multiple of the input size (inputs ${input.h.join('/')}x${input.w.join('/')} ` +
        `give ${output.h.join('/')}x${output.w.join('/')}); srq SR models upscale by one integer factor`,
    );
  }
  return scale;
}

class Converter {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>([INPUT_NAME, OUTPUT_NAME]);
  private readonly constants = new Map<string, string>();
  private readonly blobs = new Map<string, Blob>();
  private readonly topNames = new Map<string, string>();

  constructor(
    private readonly param: NcnnParam,
    private readonly bin: ModelBin,
    private readonly opts: NcnnImportOptions,
  ) {}

  private unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  private constant(key: string, make: (name: string) => TensorProto): string {
    let name = this.constants.get(key);
    if (!name) {
      name = this.unique(key);
      this.initializers.push(make(name));
      this.constants.set(key, name);
    }
    return name;
  }

  run(): { graph: GraphProto; input: Blob; output: Blob } {
    const layers = this.param.layers;
    // Name the first layer srq cannot convert before reading any weights.
    const unknown = layers.find((l) => l.type !== 'Input' && !converterFor(l.type));
    if (unknown) throw new UnsupportedNcnnLayerError(unknown.type, unknown.name, supportedNcnnLayers);
    const inputs = layers.filter((l) => l.type === 'Input');
    if (inputs.length !== 1) {
      throw new NcnnContractError(`${this.source} has ${inputs.length} Input layers; srq SR models have exactly one image input`);
    }
    const consumed = new Set(layers.flatMap((l) => l.bottoms));
    const sinks = layers.flatMap((l) => l.tops).filter((t) => !consumed.has(t));
    if (sinks.length !== 1) {
      throw new NcnnContractError(`${this.source} has ${sinks.length} output blobs (${sinks.slice(0, 5).join(', ')}); srq SR models have exactly one`);
    }
    const sink = sinks[0]!;
    for (const l of layers) for (const t of l.tops) this.topNames.set(t, t === sink ? OUTPUT_NAME : this.unique(t));

    for (const layer of layers) {
      if (layer.type === 'Input') {
        this.input(layer);
        continue;
      }
      const convert = converterFor(layer.type);
      if (!convert) throw new UnsupportedNcnnLayerError(layer.type, layer.name, supportedNcnnLayers);
      const ins = layer.bottoms.map((b) => this.blobs.get(b)!);
      const outs = convert(this.context(layer), ins);
      if (outs.length !== layer.tops.length) {
        throw new UnsupportedNcnnLayerError(layer.type, layer.name, supportedNcnnLayers, `has ${layer.tops.length} output blobs, srq converts ${outs.length}`);
      }
      layer.tops.forEach((t, i) => this.blobs.set(t, outs[i]!));
    }
    if (this.bin.remaining !== 0) {
      throw new NcnnWeightsError(
        `${this.opts.binSource ?? 'the .bin file'} has ${this.bin.remaining} bytes left after the last layer's weights (read ${this.bin.position}); ` +
          'it does not belong to this .param',
      );
    }

    const input = this.blobs.get(layers.find((l) => l.type === 'Input')!.tops[0]!)!;
    let output = this.blobs.get(sink)!;
    if (output.name !== OUTPUT_NAME) {
      this.nodes.push(makeNode('Identity', [output.name], [OUTPUT_NAME], {}, OUTPUT_NAME));
      output = { ...output, name: OUTPUT_NAME };
    }
    const graph = makeGraph({
      name: this.opts.name ?? 'ncnn-model',
      nodes: this.nodes,
      inputs: [makeValueInfo(INPUT_NAME, DataType.FLOAT, [1, 3, 'h', 'w'])],
      outputs: [makeValueInfo(OUTPUT_NAME, DataType.FLOAT, [1, output.c, null, null])],
      initializers: this.initializers,
    });
    return { graph, input, output };
  }

  private get source(): string {
    return this.opts.paramSource ?? 'the .param file';
  }

  private input(layer: NcnnLayer): void {
    if (layer.bottoms.length !== 0 || layer.tops.length !== 1) {
      throw new NcnnParamError(`${this.source} line ${layer.line}: Input layer ${layer.name} must have 0 inputs and 1 output`);
    }
    const c = layer.params.int(2, 0);
    if (c !== 0 && c !== 3) {
      throw new NcnnContractError(`Input layer ${layer.name} takes ${c} channels (2=${c}); srq SR models take RGB (3 channels)`);
    }
    this.blobs.set(layer.tops[0]!, { name: INPUT_NAME, c: 3, h: PROBE_H, w: PROBE_W });
  }

  private context(layer: NcnnLayer): LayerContext {
    const prefix = layer.name;
    return {
      layer,
      params: layer.params,
      bin: this.bin,
      top: (i = 0) => {
        const t = layer.tops[i];
        if (t === undefined) throw new UnsupportedNcnnLayerError(layer.type, layer.name, supportedNcnnLayers, `needs an output blob #${i}`);
        return this.topNames.get(t)!;
      },
      temp: (suffix) => this.unique(`${prefix}/${suffix}`),
      node: (opType, inputs, outputs, attributes: Record<string, AttributeProto> = {}) => {
        this.nodes.push(makeNode(opType, inputs, outputs, attributes, this.unique(`${prefix}/${opType}`)));
      },
      weight: (suffix, dims, values) => {
        const name = this.unique(`${prefix}.${suffix}`);
        this.initializers.push(makeTensor(name, DataType.FLOAT, dims, values));
        return name;
      },
      scalar: (value) => this.constant(`const_f32_${value}`, (n) => makeTensor(n, DataType.FLOAT, [], new Float32Array([value]))),
      int64s: (values) =>
        this.constant(`const_i64_${values.join('_')}`, (n) => makeTensor(n, DataType.INT64, [values.length], BigInt64Array.from(values, (v) => BigInt(v)))),
      fail: (detail) => {
        throw new UnsupportedNcnnLayerError(layer.type, layer.name, supportedNcnnLayers, detail);
      },
    };
  }
}
