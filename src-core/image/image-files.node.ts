// Node-only: image files from paths given on a command line or in an Action input (files or folders).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeImage } from './decode.ts';
import { ImageError } from './errors.ts';
import type { RasterImage } from './raster.ts';

const imageExtensions = /\.(png|jpe?g)$/i;

export class ImageFilesError extends Error {
  override name = 'ImageFilesError';
}

/** Image files named directly or found (not recursively) in named folders, sorted within each folder. */
export function listImageFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let stat;
    try {
      stat = statSync(p);
    } catch {
      throw new ImageFilesError(`image path ${p} does not exist`);
    }
    if (stat.isDirectory()) {
      const found = readdirSync(p).filter((f) => imageExtensions.test(f)).sort().map((f) => join(p, f));
      if (found.length === 0) throw new ImageFilesError(`folder ${p} holds no .png or .jpg images`);
      files.push(...found);
    } else {
      files.push(p);
    }
  }
  return files;
}

export interface NamedImage { name: string; path: string; image: RasterImage }

export function readImageFile(path: string, maxPixels?: number): RasterImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ImageFilesError(`cannot read image ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    return decodeImage(bytes, maxPixels !== undefined ? { maxPixels } : {});
  } catch (e) {
    if (e instanceof ImageError) throw new ImageFilesError(`${path}: ${e.message}`);
    throw e;
  }
}

export function readImages(paths: readonly string[], maxPixels?: number): NamedImage[] {
  return listImageFiles(paths).map((path) => ({ name: basename(path), path, image: readImageFile(path, maxPixels) }));
}

/** Names of images found in both lists with the same content: a calibration set that leaks into validation. */
export function sharedImages(a: readonly string[], b: readonly string[]): string[] {
  const digest = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  const seen = new Map(listImageFiles(a).map((p) => [digest(p), basename(p)]));
  return listImageFiles(b).flatMap((p) => {
    const name = seen.get(digest(p));
    return name === undefined ? [] : [name === basename(p) ? name : `${name} = ${basename(p)}`];
  });
}
