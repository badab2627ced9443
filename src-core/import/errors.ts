// Errors the Keras-layers importer throws for bad input. Each message names the problem and the fix.

/** A layer class (or a layer option) the importer has no ONNX mapping for. */
export class UnsupportedLayerError extends Error {
  override name = 'UnsupportedLayerError';
  readonly layerName: string;
  readonly className: string;

  constructor(layerName: string, className: string, supported: readonly string[], detail?: string) {
    const what = detail
      ? `layer '${layerName}' (${className}): ${detail}`
      : `layer '${layerName}' has class ${className}, which srq import does not support`;
    super(`${what}; supported classes: ${supported.join(', ')}. Rebuild the model from these layers or convert it another way`);
    this.layerName = layerName;
    this.className = className;
  }
}

/** model.json is not a Keras layers model, or its topology is malformed. */
export class KerasModelError extends Error {
  override name = 'KerasModelError';
}

/** The weights do not match the manifest (missing, short, or of an unreadable dtype). */
export class KerasWeightsError extends Error {
  override name = 'KerasWeightsError';
}

/** The model converts, but does not fit the srq SR contract (3-channel image in, integer-scaled image out). */
export class SrContractError extends Error {
  override name = 'SrContractError';
}
