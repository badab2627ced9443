// Errors the ncnn importer throws. Each message is one line: what is wrong, where, and what to do.

/** The .param text is not an ncnn text param file, or is malformed (magic, counts, a layer line, a k=v pair). */
export class NcnnParamError extends Error {
  override name = 'NcnnParamError';
}

/** The .bin does not hold the weights the .param asks for (short, unknown storage tag, bytes left over). */
export class NcnnWeightsError extends Error {
  override name = 'NcnnWeightsError';
}

/** A layer type (or one of its options) the importer has no ONNX mapping for. */
export class UnsupportedNcnnLayerError extends Error {
  override name = 'UnsupportedNcnnLayerError';
  readonly layerType: string;
  readonly layerName: string;

  constructor(layerType: string, layerName: string, supported: readonly string[], detail?: string) {
    const what = detail
      ? `ncnn layer '${layerName}' (${layerType}): ${detail}`
      : `ncnn layer '${layerName}' has type ${layerType}, which srq import does not support`;
    super(
      `${what}; supported types: ${supported.join(', ')}. ` +
        'Export the model from its PyTorch/ONNX source instead, or rewrite that layer with supported ones',
    );
    this.layerType = layerType;
    this.layerName = layerName;
  }
}

/** The graph converts, but is not an SR model srq can serve (RGB in, RGB out, one integer scale). */
export class NcnnContractError extends Error {
  override name = 'NcnnContractError';
}
