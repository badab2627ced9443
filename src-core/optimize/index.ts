// Exact graph rewrites applied before quantization or conversion (the output is the same function).
import type { ModelProto } from '../onnx/types.ts';
import { convTransposesToSubpixel } from './conv-transpose.ts';
import { foldIntoConvs } from './fold-into-conv.ts';
import { fuseSubpixelConvs, moveClampsBeforeShuffles } from './subpixel-conv.ts';
import { sumsToAdds } from './sum-to-add.ts';

export interface OptimizeReport {
  sumsToAdds: number;
  /** ConvTranspose → Conv + DepthToSpace (conv-transpose.ts); static INT8 only. */
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

export interface OptimizeOptions {
  /**
   * The graph is about to be quantized to static INT8: also apply the rewrites that pay only there (ConvTranspose,
   * which ORT has no int8 kernel for, becomes a conv it runs in int8; in float it costs more). PRelus are static
   * INT8's own choice (quantize/static.ts: their form depends on the runtime, and equalization runs first).
   */
  staticInt8?: boolean;
}

/** Rewrites the model in place. */
export function optimizeGraph(model: ModelProto, opts: OptimizeOptions = {}): OptimizeReport {
  // Sum -> Add first: the later passes and the quantizer's rules know Add.
  const sums = sumsToAdds(model);
  // Static INT8 only: ORT has no int8 ConvTranspose (it would stay DQ → float → Q), while in float the rewritten
  // conv does more multiply-adds (waifu2x upconv_7: 3×3 taps, 4 of 9 used per phase) and measured 0.97× on
  // ORT-node and 0.88× on ORT-web.
  const convTransposes = opts.staticInt8 ? convTransposesToSubpixel(model) : 0;
  const folds = foldIntoConvs(model);
  const subpixelConvs = fuseSubpixelConvs(model);
  const clampsMoved = moveClampsBeforeShuffles(model);
  return {
    sumsToAdds: sums,
    convTransposes,
    batchNormsFolded: folds.batchNorms,
    affineAfterConvFolded: folds.affineAfter,
    affineBeforeConvFolded: folds.affineBefore,
    subpixelConvs,
    clampsMoved,
  };
}
