// An SR model made ready to serve: exact graph rewrites applied, its scale and the tile overlap it needs.
// Shared by the CLI, the Action and the edge worker. Runtime-agnostic.
import { cloneModel, encodeModel, getMetadata } from './onnx/model.ts';
import type { ModelProto } from './onnx/types.ts';
import { optimizeGraph } from './optimize/index.ts';
import { receptiveFieldRadius } from './tiling/receptive-field.ts';

export class ModelContractError extends Error {
  override name = 'ModelContractError';
}

export interface InferenceModel {
  /** Serialized model to create a Runner from (after exact rewrites such as sub-pixel convs). */
  bytes: Uint8Array;
  scale: number;
  /** Input px of context each tile needs: the receptive-field radius of the original graph. */
  overlap: number;
}

/** `scale` overrides a missing `srq.scale` (models not made by srq); `overlap` overrides the computed one. */
export function prepareInferenceModel(model: ModelProto, opts: { scale?: number; overlap?: number; name?: string } = {}): InferenceModel {
  const name = opts.name ?? 'the model';
  const declared = Number(getMetadata(model, 'srq.scale'));
  const scale = opts.scale ?? (Number.isInteger(declared) && declared > 0 ? declared : undefined);
  if (scale === undefined) {
    throw new ModelContractError(`${name} has no srq.scale metadata; pass its upscaling factor (--scale N) or import it with srq import`);
  }
  // The original graph states the model's reach most exactly; rewrites keep the function, not the arithmetic.
  const overlap = opts.overlap ?? receptiveFieldRadius(model);
  const optimized = cloneModel(model);
  optimizeGraph(optimized);
  return { bytes: encodeModel(optimized), scale, overlap };
}
