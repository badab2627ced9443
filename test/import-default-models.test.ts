// The committed models/ must be exactly what the importer makes from node_modules today (so they can be
// regenerated and audited), and must match models/manifest.json.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODELS, NCNN_MODELS, packageModelPath } from '../src-core/import/default-models.ts';
import { importNcnnDefault } from '../src-core/import/default-models.node.ts';
import type { ModelManifest } from '../src-core/import/default-models.ts';
import { importTfjsModelFile } from '../src-core/import/tfjs-files.ts';
import { decodeModel, encodeModel, getMetadata } from '../src-core/onnx/model.ts';
import { nodeModules, randomValues, runOnnx } from './fixtures/import/tf-helpers.ts';

const modelsDir = path.resolve(import.meta.dirname, '../models');
const manifest = JSON.parse(readFileSync(path.join(modelsDir, 'manifest.json'), 'utf8')) as ModelManifest;
/** "@scope/name" of a source "@scope/name@1.0.0/models/x2/model.json". */
const packageOf = (source: string) => source.slice(0, source.indexOf('@', 1));

const tfjs = manifest.models.filter((m) => m.source.startsWith('@upscalerjs/'));
const ncnn = manifest.models.filter((m) => !m.source.startsWith('@upscalerjs/'));

describe('models/manifest.json', () => {
  it('lists every default model once: the TF.js ones in DEFAULT_MODELS order, then the ncnn ones', () => {
    expect(manifest.version).toBe(1);
    expect(tfjs.map((m) => [packageOf(m.source), m.scale])).toEqual(DEFAULT_MODELS.map((d) => [d.package, d.scale]));
    expect(ncnn.map((m) => m.name)).toEqual(NCNN_MODELS.map((d) => d.name));
    expect(manifest.models).toEqual([...tfjs, ...ncnn]);
  });
});

describe.each(ncnn.map((m) => [m.name, m] as const))('%s (ncnn)', (name, entry) => {
  const bytes = new Uint8Array(readFileSync(path.join(modelsDir, entry.file)));
  const spec = NCNN_MODELS.find((d) => d.name === name)!;

  it('matches its manifest entry and is byte-identical to a fresh import from node_modules', async () => {
    expect(bytes.byteLength).toBe(entry.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(entry.sha256);
    expect([entry.scale, entry.license]).toEqual([spec.scale, spec.license]);
    const fresh = encodeModel((await importNcnnDefault(spec, nodeModules)).model);
    expect(Buffer.compare(Buffer.from(fresh), Buffer.from(bytes))).toBe(0);
    expect(getMetadata(decodeModel(bytes), 'srq.source')).toBe(entry.source);
    // No path of the machine that imported it: CI's clone lives elsewhere and must get the same bytes.
    expect(Buffer.from(bytes).includes(path.resolve(modelsDir, '..'))).toBe(false);
  });

  it(`runs on ORT: [1,3,h,w] -> [1,3,${spec.scale}h,${spec.scale}w]`, async () => {
    const [h, w] = [9, 14];
    const { dims } = await runOnnx(bytes, randomValues(3 * h * w, 5), [1, 3, h, w]);
    expect(dims).toEqual([1, 3, h * spec.scale, w * spec.scale]);
  });
});

describe.each(tfjs.map((m) => [m.name, m] as const))('%s', (_name, entry) => {
  const bytes = new Uint8Array(readFileSync(path.join(modelsDir, entry.file)));

  it('matches its manifest entry (sha256, size, metadata, license)', () => {
    expect(bytes.byteLength).toBe(entry.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(entry.sha256);
    const model = decodeModel(bytes);
    expect(getMetadata(model, 'srq.scale')).toBe(String(entry.scale));
    expect(getMetadata(model, 'srq.name')).toBe(entry.name);
    expect(getMetadata(model, 'srq.source')).toBe(entry.source);
    const pkg = packageOf(entry.source);
    const pkgJson = JSON.parse(readFileSync(path.join(nodeModules, pkg, 'package.json'), 'utf8')) as { license: string; version: string };
    expect(entry.license).toBe(pkgJson.license);
    expect(entry.source.startsWith(`${pkg}@${pkgJson.version}/`)).toBe(true);
  });

  it('is byte-identical to a fresh import from node_modules', async () => {
    const pkg = packageOf(entry.source);
    const fresh = await importTfjsModelFile(path.join(nodeModules, pkg, packageModelPath(pkg, entry.scale)));
    const freshBytes = encodeModel(fresh.model);
    expect(freshBytes.byteLength).toBe(bytes.byteLength);
    expect(Buffer.compare(Buffer.from(freshBytes), Buffer.from(bytes))).toBe(0);
  });

  it('follows the srq contract on ORT: [1,3,h,w] in [0,1] -> [1,3,s*h,s*w] in [0,1]', async () => {
    const [h, w] = [9, 14];
    const { data, dims } = await runOnnx(bytes, randomValues(3 * h * w, 5), [1, 3, h, w]);
    expect(dims).toEqual([1, 3, h * entry.scale, w * entry.scale]);
    let min = Infinity;
    let max = -Infinity;
    for (const v of data) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max - min).toBeGreaterThan(0.3);
  });
});
