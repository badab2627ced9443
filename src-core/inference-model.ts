// An SR model made ready to serve: its resolved description, with srq's exact graph rewrites applied.
// Shared by the CLI, the Action and the edge worker. Runtime-agnostic.
import type { ModelDescription, ResolvedModel, TileGeometry } from './model/description.ts';
import { cloneModel, encodeModel } from './onnx/model.ts';
import { optimizeGraph } from './optimize/index.ts';

export interface InferenceModel extends TileGeometry {
  /** Serialized model to create a Runner from (after exact rewrites such as sub-pixel convs). */
  bytes: Uint8Array;
  description: ModelDescription;
}

export function prepareInferenceModel({ model, description }: ResolvedModel): InferenceModel {
  const optimized = cloneModel(model);
  optimizeGraph(optimized);
  const { scale, border, overlap, wholeImage } = description;
  return { bytes: encodeModel(optimized), scale, border, overlap, ...(wholeImage ? { wholeImage } : {}), description };
}
