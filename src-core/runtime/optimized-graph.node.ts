// Node-only: what ORT really runs. Lets onnxruntime-node optimise the model (all levels, CPU EP), saves the
// optimised graph and counts its op types: the proof that a QDQ model's convs became int8 kernels.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { opHistogram } from '../onnx/graph.ts';
import { decodeModel } from '../onnx/model.ts';
import type { ModelProto } from '../onnx/types.ts';
import { createNodeRunner } from './ort-node.ts';

export interface KernelCounts {
  /** Op histogram of the optimised graph (domain-prefixed for com.microsoft ops). */
  ops: Record<string, number>;
  /** Convs running as int8 kernels (QLinearConv, ConvInteger). */
  int8Convs: number;
  /** Convs still running in float (Conv, FusedConv, NCHWc Conv). */
  floatConvs: number;
  /** Q and DQ nodes left after fusion: each marks a float op between int8 ones (or a graph edge). */
  quantizeNodes: number;
  dequantizeNodes: number;
}

const int8ConvOps = ['com.microsoft.QLinearConv', 'QLinearConv', 'ConvInteger'];
const floatConvOps = ['Conv', 'com.microsoft.FusedConv', 'com.microsoft.nchwc.Conv'];

/** The graph onnxruntime-node runs after all its optimisations (CPU EP), as it saves it. */
export async function optimizedGraph(model: Uint8Array, threads = 1): Promise<ModelProto> {
  const dir = mkdtempSync(join(tmpdir(), 'srq-optimized-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const runner = await createNodeRunner(model, { threads, graphOptimizationLevel: 'all', optimizedModelFilePath: path });
    await runner.release();
    return decodeModel(readFileSync(path), path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Q and DQ nodes in an optimised graph: each marks a float op between int8 ones (or a graph edge). */
export function qdqCounts(optimized: ModelProto): { quantizeNodes: number; dequantizeNodes: number } {
  const ops = opHistogram(optimized.graph!.node!);
  return {
    quantizeNodes: (ops['QuantizeLinear'] ?? 0) + (ops['com.microsoft.QuantizeLinear'] ?? 0),
    dequantizeNodes: (ops['DequantizeLinear'] ?? 0) + (ops['com.microsoft.DequantizeLinear'] ?? 0),
  };
}

export async function optimizedKernelCounts(model: Uint8Array, threads = 1): Promise<KernelCounts> {
  const optimized = await optimizedGraph(model, threads);
  const ops = opHistogram(optimized.graph!.node!);
  const count = (names: string[]) => names.reduce((n, op) => n + (ops[op] ?? 0), 0);
  return { ops, int8Convs: count(int8ConvOps), floatConvs: count(floatConvOps), ...qdqCounts(optimized) };
}
