// Reading model.json + shards from disk (tfjs-files.ts), and the weight encodings TF.js can store.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KerasModelError } from '../src-core/import/errors.ts';
import { importKerasLayers } from '../src-core/import/keras-layers.ts';
import type { LayersModelJson, WeightsManifestEntry } from '../src-core/import/keras-topology.ts';
import { importTfjsModelFile, TfjsFileError } from '../src-core/import/tfjs-files.ts';
import { encodeModel, getMetadata } from '../src-core/onnx/model.ts';
import {
  maxAbsDiff, nchwToNhwc, nhwcToNchw, randomValues, runOnnx, saveLayersModel, tf, tfReady,
} from './fixtures/import/tf-helpers.ts';

let dir: string;
let sr: tf.LayersModel;
let saved: { modelJson: LayersModelJson; weights: ArrayBuffer };

/** A tiny x2 SR net in 0..1 (PixelShuffle-free, so no custom classes are needed). */
function tinySr(): tf.LayersModel {
  const inp = tf.input({ shape: [null, null, 3] });
  const a = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(inp) as tf.SymbolicTensor;
  const up = tf.layers.upSampling2d({ size: [2, 2] }).apply(a) as tf.SymbolicTensor;
  const out = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(up) as tf.SymbolicTensor;
  const m = tf.model({ inputs: inp, outputs: out });
  m.setWeights(m.getWeights().map((w, i) => tf.tensor(randomValues(w.size, 50 + i, -0.3, 0.3), w.shape)));
  return m;
}

beforeAll(async () => {
  await tfReady();
  dir = mkdtempSync(path.join(tmpdir(), 'srq-import-'));
  sr = tinySr();
  saved = await saveLayersModel(sr);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes model.json with its weights split into `groups` groups of one shard each. */
function writeModel(sub: string, groups: number, mutate?: (json: LayersModelJson) => void): string {
  const folder = path.join(dir, sub);
  mkdirSync(folder, { recursive: true });
  const specs = saved.modelJson.weightsManifest[0]!.weights;
  const per = Math.ceil(specs.length / groups);
  const manifest = [];
  let offset = 0;
  for (let g = 0; g < groups; g++) {
    const weights = specs.slice(g * per, (g + 1) * per);
    const size = weights.reduce((a, w) => a + 4 * w.shape.reduce((x, y) => x * y, 1), 0);
    const file = `group${g + 1}-shard1of1.bin`;
    writeFileSync(path.join(folder, file), new Uint8Array(saved.weights, offset, size));
    offset += size;
    manifest.push({ paths: [file], weights });
  }
  const json: LayersModelJson = { format: 'layers-model', modelTopology: saved.modelJson.modelTopology, weightsManifest: manifest };
  mutate?.(json);
  const file = path.join(folder, 'model.json');
  writeFileSync(file, JSON.stringify(json));
  return file;
}

describe('importTfjsModelFile', () => {
  it('reads shards of several weight groups and imports what importKerasLayers makes from memory', async () => {
    const file = writeModel('x2', 2);
    const { model, scale, name } = await importTfjsModelFile(file, { pixelRange: 1, source: 'tiny' });
    expect(scale).toBe(2);
    expect(name).toBe('x2'); // the model's folder: model.json itself says nothing
    expect(getMetadata(model, 'srq.name')).toBe('x2');
    const fromMemory = importKerasLayers(saved.modelJson, saved.weights, { pixelRange: 1, source: 'tiny', name: 'x2' });
    expect(encodeModel(model)).toEqual(encodeModel(fromMemory.model));

    const [h, w] = [5, 6];
    const x = randomValues(h * w * 3, 3);
    const ref = tf.tidy(() => (sr.predict(tf.tensor4d(x, [1, h, w, 3])) as tf.Tensor).clipByValue(0, 1).dataSync() as Float32Array);
    const { data } = await runOnnx(model, nhwcToNchw(x, h, w, 3), [1, 3, h, w]);
    expect(maxAbsDiff(nchwToNhwc(data, 3, 2 * h, 2 * w), ref)).toBeLessThanOrEqual(1e-4);
  });

  it('records the path as source outside any UpscalerJS package, and takes overrides', async () => {
    const file = writeModel('plain', 1);
    const { model } = await importTfjsModelFile(file, { pixelRange: 1 });
    expect(getMetadata(model, 'srq.source')).toBe(file);
    const named = await importTfjsModelFile(file, { pixelRange: 1, name: 'mine', source: 'somewhere' });
    expect(named.name).toBe('mine');
    expect(getMetadata(named.model, 'srq.source')).toBe('somewhere');
  });

  it('names a missing shard', async () => {
    const file = writeModel('missing', 2);
    rmSync(path.join(path.dirname(file), 'group2-shard1of1.bin'));
    const e = await importTfjsModelFile(file).catch((err: Error) => err);
    expect(e).toBeInstanceOf(TfjsFileError);
    expect((e as Error).message).toMatch(/weight shard group2-shard1of1\.bin listed in .*model\.json cannot be read \(ENOENT\)/);
  });

  it('says when the file is missing, not JSON, or not a layers model', async () => {
    await expect(importTfjsModelFile(path.join(dir, 'nope.json'))).rejects.toThrow(/cannot read .*nope\.json \(ENOENT\)/);
    const notJson = path.join(dir, 'not.json');
    writeFileSync(notJson, 'PK\u0003\u0004 zip?');
    await expect(importTfjsModelFile(notJson)).rejects.toThrow(TfjsFileError);
    await expect(importTfjsModelFile(notJson)).rejects.toThrow(/is not JSON/);
    const graph = path.join(dir, 'graph.json');
    writeFileSync(graph, JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }));
    await expect(importTfjsModelFile(graph)).rejects.toThrow(KerasModelError);
  });
});

describe('quantized weights (as tensorflowjs_converter --quantize_* writes them)', () => {
  function float16Bits(v: number): number {
    const f = new Float32Array([v]);
    const u = new Uint32Array(f.buffer)[0]!;
    const sign = (u >>> 16) & 0x8000;
    const exp = ((u >>> 23) & 0xff) - 127 + 15;
    if (exp <= 0) return sign; // tiny values flush to zero, fine for this test
    return sign | (exp << 10) | ((u >>> 13) & 0x3ff);
  }

  function quantize(dtype: 'uint8' | 'uint16' | 'float16'): { specs: WeightsManifestEntry[]; data: ArrayBuffer } {
    const floats = new Float32Array(saved.weights);
    const specs: WeightsManifestEntry[] = [];
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const spec of saved.modelJson.weightsManifest[0]!.weights) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      const values = floats.subarray(offset, offset + n);
      offset += n;
      if (dtype === 'float16') {
        parts.push(new Uint8Array(Uint16Array.from(values, float16Bits).buffer));
        specs.push({ ...spec, quantization: { dtype } });
        continue;
      }
      const min = Math.min(...values);
      const levels = dtype === 'uint8' ? 255 : 65535;
      const scale = (Math.max(...values) - min) / levels || 1;
      const q = Array.from(values, (v) => Math.round((v - min) / scale));
      parts.push(new Uint8Array((dtype === 'uint8' ? Uint8Array.from(q) : Uint16Array.from(q)).buffer));
      specs.push({ ...spec, quantization: { dtype, scale, min } });
    }
    const data = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
    let o = 0;
    for (const p of parts) {
      data.set(p, o);
      o += p.byteLength;
    }
    return { specs, data: data.buffer };
  }

  it.each(['uint8', 'uint16', 'float16'] as const)('%s: decoded as TF.js decodes them', async (dtype) => {
    const { specs, data } = quantize(dtype);
    const json: LayersModelJson = { ...saved.modelJson, weightsManifest: [{ paths: ['q.bin'], weights: specs }] };
    const { model } = importKerasLayers(json, data, { pixelRange: 1 });
    const reference = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs as tf.io.WeightsManifestEntry[], weightData: data }),
    );
    const [h, w] = [4, 7];
    const x = randomValues(h * w * 3, 9);
    const ref = tf.tidy(() => (reference.predict(tf.tensor4d(x, [1, h, w, 3])) as tf.Tensor).clipByValue(0, 1).dataSync() as Float32Array);
    const { data: out } = await runOnnx(model, nhwcToNchw(x, h, w, 3), [1, 3, h, w]);
    expect(maxAbsDiff(nchwToNhwc(out, 3, 2 * h, 2 * w), ref)).toBeLessThanOrEqual(1e-4);
    // And the quantization really changed the weights (the test is not comparing float32 with itself).
    const full = tf.tidy(() => (sr.predict(tf.tensor4d(x, [1, h, w, 3])) as tf.Tensor).clipByValue(0, 1).dataSync() as Float32Array);
    expect(maxAbsDiff(full, ref)).toBeGreaterThan(0);
  });
});

describe('runtime-agnostic modules', () => {
  it('only tfjs-files.ts and *.node.ts files touch Node built-ins (the rest must load in Deno / Workers / browsers)', () => {
    const importDir = path.resolve(import.meta.dirname, '../src-core/import');
    const files = readdirSync(importDir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('keras-layers.ts');
    for (const f of files.filter((name) => name !== 'tfjs-files.ts' && !name.endsWith('.node.ts'))) {
      const code = readFileSync(path.join(importDir, f), 'utf8');
      expect(code, f).not.toMatch(/from '(node:|fs|path|os)|\bBuffer\b|\bprocess\./);
      expect(code, f).not.toMatch(/from '\.\/(tfjs-files|[\w/-]+\.node)/);
    }
  });
});
