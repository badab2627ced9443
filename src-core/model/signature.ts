// The model's inputs and outputs as srq needs them: one float32 NCHW RGB image in, one image out. Each refusal
// says what the model has and what srq expects. Runtime-agnostic.
import { valueInfoShape } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { DataType } from '../onnx/tensor.ts';
import type { ModelProto, ValueInfoProto } from '../onnx/types.ts';

export class ModelSignatureError extends Error {
  override name = 'ModelSignatureError';
}

export interface Signature {
  input: string;
  output: string;
  /** Height and width the graph declares for its input, when they are fixed numbers. */
  fixedSize?: [number, number];
}

const shapeText = (v: ValueInfoProto) => `[${(valueInfoShape(v) ?? []).map((d) => d ?? '?').join(', ')}]`;

export function checkSignature(model: ModelProto, name: string): Signature {
  const graph = new Graph(model.graph!);
  const inputs = graph.inputs;
  if (inputs.length !== 1) {
    throw new ModelSignatureError(`${name} has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); srq handles SR models with one image input [1, 3, H, W]`);
  }
  const input = inputs[0]!;
  const elem = input.type?.tensorType?.elemType;
  if (elem !== undefined && elem !== DataType.FLOAT) {
    throw new ModelSignatureError(`${name}'s input '${input.name}' is not float32; srq quantizes FP32 models (export the model in float32)`);
  }
  const dims = valueInfoShape(input);
  if (dims && dims.length !== 4) {
    throw new ModelSignatureError(`${name}'s input '${input.name}' is ${shapeText(input)}, not an image [1, 3, H, W]; srq handles NCHW image models`);
  }
  const nhwc = dims !== undefined && dims[3] === 3 && dims[1] !== 3;
  if (dims && (nhwc || (typeof dims[1] === 'number' && dims[1] !== 3))) {
    throw new ModelSignatureError(
      nhwc
        ? `${name}'s input '${input.name}' is ${shapeText(input)}, channels last (NHWC); srq takes NCHW models: export with channels first (e.g. tf2onnx --inputs-as-nchw)`
        : `${name}'s input '${input.name}' has ${dims[1]} channels (${shapeText(input)}); srq handles RGB models with 3 input channels`,
    );
  }
  if (graph.outputs.length === 0) throw new ModelSignatureError(`${name} has no graph output`);
  const fixed = dims && typeof dims[2] === 'number' && typeof dims[3] === 'number' ? ([dims[2], dims[3]] as [number, number]) : undefined;
  return { input: input.name ?? '', output: graph.outputs[0]!.name ?? '', ...(fixed ? { fixedSize: fixed } : {}) };
}

/**
 * Declares the image input's height and width (and the outputs') as free, for models exported with a fixed size
 * (no dynamic axes). Exact when the graph does not bake the size into constants; the probe runs tell.
 */
export function freeImageSize(model: ModelProto): void {
  const graph = new Graph(model.graph!);
  for (const v of [...graph.inputs, ...graph.outputs]) {
    const dim = v.type?.tensorType?.shape?.dim;
    if (dim && dim.length === 4) {
      dim[2] = { dimParam: 'height' };
      dim[3] = { dimParam: 'width' };
    }
  }
  // Intermediate shapes recorded at export time would contradict the new sizes.
  model.graph!.valueInfo = [];
}
