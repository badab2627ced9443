// The ncnn importer (.param + .bin -> ONNX), runtime-agnostic part. Reading files from disk is files.node.ts
// (importNcnnFiles), kept out of here so edge bundles never pull in node:fs.
export { convertNcnn, importNcnn, INPUT_NAME, OUTPUT_NAME } from './convert.ts';
export type { ConvertedNcnn, NcnnImportOptions, NcnnImportResult } from './convert.ts';
export type { Blob } from './context.ts';
export { parseNcnnParam, ParamDict, NCNN_MAGIC } from './param.ts';
export type { NcnnLayer, NcnnParam, ParamValue } from './param.ts';
export { ModelBin, TAG_FLOAT16, TAG_FLOAT32, TAG_INT8 } from './weights.ts';
export { supportedNcnnLayers } from './layers/index.ts';
export { NcnnContractError, NcnnParamError, NcnnWeightsError, UnsupportedNcnnLayerError } from './errors.ts';
