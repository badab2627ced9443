// What a layer converter sees: its ncnn layer, the .bin reader, and builders for ONNX nodes and constants.
// Blobs are ncnn's 3-D [c, h, w] mats; in ONNX they are [1, c, h, w]. Each blob carries its channel count
// and its spatial size for a few probe input sizes, so the converter can check shapes and work out the
// model's scale without running it.
import type { AttributeProto } from '../../onnx/types.ts';
import type { NcnnLayer, ParamDict } from './param.ts';
import type { ModelBin } from './weights.ts';

/** One ncnn blob as an ONNX tensor: its name, channels, and h / w per probe input size. */
export interface Blob {
  name: string;
  c: number;
  h: number[];
  w: number[];
}

export interface LayerContext {
  readonly layer: NcnnLayer;
  readonly params: ParamDict;
  readonly bin: ModelBin;
  /** The ONNX tensor name for the layer's i-th output blob. */
  top(i?: number): string;
  /** A fresh intermediate tensor name for this layer. */
  temp(suffix: string): string;
  node(opType: string, inputs: string[], outputs: string[], attributes?: Record<string, AttributeProto>): void;
  /** A float32 initializer named after the layer; returns its name. */
  weight(suffix: string, dims: number[], values: Float32Array): string;
  /** A float32 scalar constant (shared by value). */
  scalar(value: number): string;
  /** An int64 1-D constant (shared by value). */
  int64s(values: readonly number[]): string;
  /** Throws UnsupportedNcnnLayerError naming this layer, with `detail` saying which option is the problem. */
  fail(detail: string): never;
}

/**
 * Converts one ncnn layer: emits its nodes and returns one blob per top. A layer that only copies
 * (Split, Noop) returns its input blob again and emits nothing.
 */
export type LayerConverter = (ctx: LayerContext, inputs: Blob[]) => Blob[];

/** The input blobs a layer needs: exactly `n`, or fail naming the layer. */
export function expectInputs(ctx: LayerContext, inputs: Blob[], n: number): void {
  if (inputs.length !== n) ctx.fail(`takes ${n} input blob${n === 1 ? '' : 's'}, the .param gives ${inputs.length}`);
}
