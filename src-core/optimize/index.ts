// Exact graph rewrites applied before quantization or conversion (the output is the same function).
import type { ModelProto } from '../onnx/types.ts';
import { fuseSubpixelConvs, moveClampsBeforeShuffles } from './subpixel-conv.ts';
import { sumsToAdds } from './sum-to-add.ts';

export interface OptimizeReport { sumsToAdds: number; subpixelConvs: number; clampsMoved: number }

/** Rewrites the model in place. */
export function optimizeGraph(model: ModelProto): OptimizeReport {
  // Sum -> Add first: the later passes and the quantizer's rules know Add.
  const sums = sumsToAdds(model);
  const subpixelConvs = fuseSubpixelConvs(model);
  return { sumsToAdds: sums, subpixelConvs, clampsMoved: moveClampsBeforeShuffles(model) };
}
