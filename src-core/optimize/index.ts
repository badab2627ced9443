// Exact graph rewrites applied before quantization or conversion (the output is the same function).
import type { ModelProto } from '../onnx/types.ts';
import { convTransposesToSubpixel } from './conv-transpose.ts';
import { foldIntoConvs } from './fold-into-conv.ts';
import { fuseSubpixelConvs, moveClampsBeforeShuffles } from './subpixel-conv.ts';
import { sumsToAdds } from './sum-to-add.ts';

export interface OptimizeReport {
  sumsToAdds: number;
  /** ConvTranspose → Conv + DepthToSpace (conv-transpose.ts). */
  convTransposes: number;
  /** Conv → BatchNormalization folded into the conv (fold-into-conv.ts). */
  batchNormsFolded: number;
  /** Constant Mul/Div/Add/Sub after a conv folded into its weights and bias. */
  affineAfterConvFolded: number;
  /** Constant Mul (or Add/Sub before an unpadded conv) folded into the following conv. */
  affineBeforeConvFolded: number;
  subpixelConvs: number;
  clampsMoved: number;
}

/** Rewrites the model in place. */
export function optimizeGraph(model: ModelProto): OptimizeReport {
  // Sum -> Add first: the later passes and the quantizer's rules know Add.
  const sums = sumsToAdds(model);
  const convTransposes = convTransposesToSubpixel(model);
  const folds = foldIntoConvs(model);
  const subpixelConvs = fuseSubpixelConvs(model);
  return {
    sumsToAdds: sums,
    convTransposes,
    batchNormsFolded: folds.batchNorms,
    affineAfterConvFolded: folds.affineAfter,
    affineBeforeConvFolded: folds.affineBefore,
    subpixelConvs,
    clampsMoved: moveClampsBeforeShuffles(model),
  };
}
