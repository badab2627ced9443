// Node-only: reads a TF.js layers model (model.json + the .bin shards next to it) and imports it. UpscalerJS
// packages are recognised by the package.json above the model, which fixes pixel range, name and source.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setMetadata } from '../onnx/model.ts';
import type { ModelProto } from '../onnx/types.ts';
import { importKerasLayers } from './keras-layers.ts';
import type { ImportOptions } from './keras-layers.ts';
import { asLayersModelJson } from './keras-topology.ts';
import type { LayersModelJson } from './keras-topology.ts';
import { upscalerjsModelName, upscalerjsPackages } from './upscalerjs.ts';

export class TfjsFileError extends Error {
  override name = 'TfjsFileError';
}

export interface TfjsModelFiles {
  modelJson: LayersModelJson;
  /** All shards of all weight groups, concatenated in manifest order. */
  weights: ArrayBuffer;
}

export async function readTfjsModelFiles(modelJsonPath: string): Promise<TfjsModelFiles> {
  let text: string;
  try {
    text = await readFile(modelJsonPath, 'utf8');
  } catch (e) {
    throw new TfjsFileError(`cannot read ${modelJsonPath} (${(e as NodeJS.ErrnoException).code ?? e}); pass the path of a TF.js model.json`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TfjsFileError(`${modelJsonPath} is not JSON; pass the model.json of a TF.js layers model`);
  }
  const modelJson = asLayersModelJson(parsed);
  const dir = path.dirname(modelJsonPath);
  const shards: Uint8Array[] = [];
  for (const group of modelJson.weightsManifest) {
    for (const shard of group.paths ?? []) {
      const file = path.resolve(dir, shard);
      try {
        shards.push(await readFile(file));
      } catch (e) {
        throw new TfjsFileError(
          `weight shard ${shard} listed in ${modelJsonPath} cannot be read (${(e as NodeJS.ErrnoException).code ?? e}); ` +
            'keep every .bin file next to its model.json',
        );
      }
    }
  }
  const total = shards.reduce((a, s) => a + s.byteLength, 0);
  const weights = new Uint8Array(total);
  let offset = 0;
  for (const s of shards) {
    weights.set(s, offset);
    offset += s.byteLength;
  }
  return { modelJson, weights: weights.buffer };
}

export interface TfjsImportResult {
  model: ModelProto;
  scale: number;
  name: string;
}

/**
 * Imports model.json + shards as an srq SR model. Inside an npm package the source is recorded as
 * "<package>@<version>/<path in package>" (else the path as given). An @upscalerjs package also fixes the
 * pixel range and the name ("esrgan-slim-x2"); other models are named after their folder (or file).
 * `opts` overrides any of these.
 */
export async function importTfjsModelFile(modelJsonPath: string, opts: ImportOptions = {}): Promise<TfjsImportResult> {
  const { modelJson, weights } = await readTfjsModelFiles(modelJsonPath);
  const pkg = await findPackage(path.dirname(path.resolve(modelJsonPath)));
  const known = pkg ? upscalerjsPackages[pkg.name] : undefined;
  const source =
    opts.source ??
    (pkg ? `${pkg.name}@${pkg.version}/${path.relative(pkg.dir, path.resolve(modelJsonPath)).split(path.sep).join('/')}` : modelJsonPath);
  const pixelRange = opts.pixelRange ?? known?.pixelRange;
  const { model, scale } = importKerasLayers(modelJson, weights, { source, ...(pixelRange ? { pixelRange } : {}) });
  const name = opts.name ?? (known && pkg ? upscalerjsModelName(pkg.name, scale) : fileModelName(modelJsonPath));
  setMetadata(model, 'srq.name', name);
  return { model, scale, name };
}

/** "x4" for .../x4/model.json, "my-model" for .../my-model.json. */
function fileModelName(modelJsonPath: string): string {
  const base = path.basename(modelJsonPath, path.extname(modelJsonPath));
  return base === 'model' ? path.basename(path.dirname(path.resolve(modelJsonPath))) : base;
}

/** The nearest package.json at or above `dir` (not crossing node_modules), if it has a name. */
async function findPackage(dir: string): Promise<{ name: string; version: string; dir: string } | undefined> {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      const pkg = JSON.parse(await readFile(path.join(d, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (typeof pkg.name === 'string') return { name: pkg.name, version: String(pkg.version ?? '0.0.0'), dir: d };
    } catch {
      // no (readable) package.json here; keep walking up
    }
    if (path.basename(d) === 'node_modules' || path.dirname(d) === d) return undefined;
  }
}
