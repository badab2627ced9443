// The cache seam: one entry per model, holding its work folder (variants, reports, outcome.json), keyed by what
// decides the result: the model's bytes, the run's options (images included) and srq's version. The Action plugs
// in @actions/cache; `srq run` has none. Runtime-agnostic.
import { SRQ_VERSION } from '../../src-core/version.ts';

export interface JobCache {
  /** Fill `dir` with the entry saved under `key`; false on a miss. Never throws: a broken cache is a miss. */
  restore(key: string, dir: string): Promise<boolean>;
  /** Store `dir` under `key`. Never throws: a cache that cannot save only costs the next run time. */
  save(key: string, dir: string): Promise<void>;
}

/** e.g. srq-0.1.0-esrgan-slim-x4-8158a7d852f0e7c1-3f2a9c01d4e5b6a7 (≤ 512 chars, no commas: the cache's rules). */
export function cacheKey(name: string, modelSha256: string, optionsHash: string): string {
  return `srq-${SRQ_VERSION}-${name}-${modelSha256.slice(0, 16)}-${optionsHash.slice(0, 16)}`;
}
