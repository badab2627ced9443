// Node-only: the srq package folder (it holds models/ and images/), found from this file whether it runs from
// sources (src-core/), the compiled CLI (build/src-core/) or the bundled Action (dist/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'srq') return (cached = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the srq package folder (package.json named "srq") above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** The photos shipped with srq (calibration and validation defaults). */
export function builtInImagesDir(): string {
  return join(packageRoot(), 'images');
}

export type PhotoSet = 'calibration' | 'evaluation';

/**
 * The built-in photos of one set (images/sets.json): calibration and evaluation are disjoint, so a default gate
 * never grades the quantizer on the photos it was fitted to.
 */
export function builtInPhotos(set: PhotoSet): string[] {
  const sets = JSON.parse(readFileSync(join(builtInImagesDir(), 'sets.json'), 'utf8')) as Record<PhotoSet, string[]>;
  return sets[set].map((f) => join(builtInImagesDir(), f));
}

export function builtInModelsDir(): string {
  return join(packageRoot(), 'models');
}
