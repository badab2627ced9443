// Float constants a rewrite may fold: an initializer, or the output of a Constant node (value / value_float(s)).
import { getAttr } from '../onnx/build.ts';
import type { Graph } from '../onnx/graph.ts';
import { DataType, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { NodeProto, TensorProto } from '../onnx/types.ts';

export interface FloatConstant { data: Float32Array; dims: number[] }

/** The float32 value of `name` when it is a graph constant, else undefined. */
export function floatConstant(graph: Graph, name: string): FloatConstant | undefined {
  const init = graph.initializer(name);
  if (init) return init.dataType === DataType.FLOAT ? { data: tensorToFloat32(init), dims: tensorDims(init) } : undefined;
  const node = graph.producer(name);
  if (!node || node.opType !== 'Constant' || (node.domain && node.domain !== 'ai.onnx')) return undefined;
  const value = getAttr(node, 'value');
  if (value && typeof value === 'object' && !Array.isArray(value) && 'dataType' in value) {
    const t = value as TensorProto;
    return t.dataType === DataType.FLOAT ? { data: tensorToFloat32(t), dims: tensorDims(t) } : undefined;
  }
  const f = getAttr(node, 'value_float');
  if (typeof f === 'number') return { data: Float32Array.of(f), dims: [] };
  const fs = getAttr(node, 'value_floats');
  if (Array.isArray(fs) && fs.every((v) => typeof v === 'number')) return { data: Float32Array.from(fs as number[]), dims: [fs.length] };
  return undefined;
}

/**
 * A constant that broadcasts against a rank-`rank` NCHW tensor along the channel axis only (a scalar, or every dim
 * but the channel one is 1), as one value per channel (length `channels`); undefined otherwise.
 */
export function perChannel(c: FloatConstant, rank: number, channels: number): Float32Array | undefined {
  if (c.dims.length > rank) return undefined;
  if (c.data.length === 1) return new Float32Array(channels).fill(c.data[0]!);
  const padded = [...Array(rank - c.dims.length).fill(1), ...c.dims];
  if (padded.some((d, i) => i !== 1 && d !== 1) || padded[1] !== channels) return undefined;
  return c.data;
}

/** The single consumer of `tensor`, if it has exactly one and is not a graph output. */
export function soleConsumer(graph: Graph, tensor: string): NodeProto | undefined {
  if (graph.isGraphOutput(tensor)) return undefined;
  const users = graph.consumers(tensor);
  return users.length === 1 ? users[0] : undefined;
}
