// The TF.js Keras-layers importer, runtime-agnostic part. Node's file reading is in tfjs-files.ts
// (importTfjsModelFile), kept out of here so Deno / Workers bundles never pull in node:fs.
export { importKerasLayers, convertKerasLayers, INPUT_NAME, OUTPUT_NAME } from './keras-layers.ts';
export type { ConvertOptions, ConvertedGraph, ImportOptions, ImportResult } from './keras-layers.ts';
export { UnsupportedLayerError, KerasModelError, KerasWeightsError, SrContractError } from './errors.ts';
export { supportedLayerClasses } from './layers.ts';
export { supportedActivations } from './activations.ts';
export { inferPixelRange, upscalerjsPackages } from './upscalerjs.ts';
export type { PixelRange } from './upscalerjs.ts';
export { DEFAULT_MODELS, packageModelPath } from './default-models.ts';
export type { DefaultModelSpec, ModelManifest, ModelManifestEntry } from './default-models.ts';
