// The cache seam: one entry per model, holding its work folder (variants, reports, outcome.json), keyed by what
// decides the result: the model's bytes, the run's options (images included) and srq's version. The Action plugs
// in @actions/cache (`srq run` has none) and adds the build to every key (`withBuild`): the bundled code's hash
// and the ONNX Runtime version, so that a changed dist/index.js never restores an older build's results even
// when srq's version did not change. Runtime-agnostic.
import { SRQ_VERSION } from '../../src-core/version.ts';

export interface JobCache {
  /** Fill `dir` with the entry saved under `key`; false on a miss. Never throws: a broken cache is a miss. */
  restore(key: string, dir: string): Promise<boolean>;
  /** Store `dir` under `key`. Never throws: a cache that cannot save only costs the next run time. */
  save(key: string, dir: string): Promise<void>;
}

/** e.g. srq-1.0.0-esrgan-slim-x4-8158a7d852f0e7c1-3f2a9c01d4e5b6a7 (≤ 512 chars, no commas: the cache's rules). */
export function cacheKey(name: string, modelSha256: string, optionsHash: string): string {
  return `srq-${SRQ_VERSION}-${name}-${modelSha256.slice(0, 16)}-${optionsHash.slice(0, 16)}`;
}

/** The code that computes a result, beyond srq's version. */
export interface BuildIdentity {
  /** SHA-256 (hex) of the running code: dist/index.js in the Action. */
  codeSha256: string;
  /** The ONNX Runtime version that quantizes, calibrates and validates. */
  onnxruntime: string;
}

/** e.g. `<cacheKey>-ort1.30.0-9b1c0f3e2a7d`: the job's key made specific to one build. */
export function withBuild(key: string, build: BuildIdentity): string {
  return `${key}-ort${build.onnxruntime}-${build.codeSha256.slice(0, 12)}`;
}
