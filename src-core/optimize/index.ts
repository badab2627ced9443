// Exact graph rewrites applied before quantization or conversion (the output is the same function).
import type { ModelProto } from '../onnx/types.ts';
import { fuseSubpixelConvs, moveClampsBeforeShuffles } from './subpixel-conv.ts';

export interface OptimizeReport { subpixelConvs: number; clampsMoved: number }

/** Rewrites the model in place. */
export function optimizeGraph(model: ModelProto): OptimizeReport {
  const subpixelConvs = fuseSubpixelConvs(model);
  return { subpixelConvs, clampsMoved: moveClampsBeforeShuffles(model) };
}
