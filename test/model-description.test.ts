// resolveModel: scale, border, receptive field and pixel range measured from the graph and probe runs, for srq's
// own models and for third-party exports with no srq metadata (test/fixtures/corpus, made by
// scripts/export-corpus.py); tiling with a border; overrides checked; refusals in one line.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveModelFile } from '../src-cli/model-args.ts';
import { decodeImage } from '../src-core/image/decode.ts';
import { cropImage, toRgb } from '../src-core/image/raster.ts';
import { prepareInferenceModel } from '../src-core/inference-model.ts';
import { resolveModel } from '../src-core/model/description.ts';
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/build.ts';
import { encodeModel, getMetadata } from '../src-core/onnx/model.ts';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import { DataType, makeTensor } from '../src-core/onnx/tensor.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { upscaleImage } from '../src-core/tiling/upscale.ts';

const corpusDir = new URL('./fixtures/corpus/', import.meta.url);
interface CorpusEntry { file: string; scale: number; border: number; inputRange: 1 | 255 }
const corpus = (JSON.parse(readFileSync(new URL('corpus.json', corpusDir), 'utf8')) as { models: CorpusEntry[] }).models;
const corpusPath = (file: string) => new URL(file, corpusDir).pathname;
const createRunner = (bytes: Uint8Array) => createNodeRunner(bytes, { threads: 1 });

describe("srq's own models", () => {
  it('resolve to the scale and receptive field they always had, with no border', async () => {
    const slim = (await resolveModelFile('models/esrgan-slim-x4.onnx')).description;
    expect([slim.scale, slim.border, slim.overlap, slim.sourceRange]).toEqual([4, 0, 10, 1]);
    expect(slim.found.overlap).toBe('graph');
    const medium = (await resolveModelFile('models/esrgan-medium-x4.onnx')).description;
    expect([medium.scale, medium.border, medium.overlap]).toEqual([4, 0, 18]);
  });

  it('check a given scale against the graph instead of trusting it', async () => {
    await expect(resolveModelFile('models/esrgan-slim-x2.onnx', { scale: 4 })).rejects.toThrow(
      /upscales ×2 \(measured: 32×48 → 64×96, 64×80 → 128×160\), not ×4; drop the scale option/,
    );
    expect((await resolveModelFile('models/esrgan-slim-x2.onnx', { scale: 2 })).description.scale).toBe(2);
  });
});

describe('third-party PyTorch exports (no srq metadata)', () => {
  for (const entry of corpus) {
    it(`${entry.file}: ×${entry.scale}, border ${entry.border}, range [0, ${entry.inputRange}] from the graph alone`, async () => {
      const model = readModelFile(corpusPath(entry.file));
      expect(getMetadata(model, 'srq.scale')).toBeUndefined();
      const { model: resolved, description: d } = await resolveModel(model, { name: entry.file, createRunner });
      expect([d.scale, d.border, d.sourceRange]).toEqual([entry.scale, entry.border, entry.inputRange]);
      // The resolved copy caches its facts and takes [0, 1]: resolving it again measures nothing new.
      expect(getMetadata(resolved, 'srq.scale')).toBe(String(entry.scale));
      expect(getMetadata(resolved, 'srq.input_range')).toBe('1');
      const again = await resolveModel(resolved, { name: entry.file, createRunner });
      expect([again.description.scale, again.description.border, again.description.overlap]).toEqual([d.scale, d.border, d.overlap]);
    });
  }

  it('a [0, 255] model is rewritten exactly to take and give [0, 1]', async () => {
    const entry = corpus.find((e) => e.inputRange === 255)!;
    const source = readModelFile(corpusPath(entry.file));
    const { model } = await resolveModel(source, { name: entry.file, createRunner });
    const [a, b] = [await createRunner(encodeModel(source)), await createRunner(encodeModel(model))];
    const x = Float32Array.from({ length: 3 * 20 * 24 }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.37));
    const want = await a.run(x.map((v) => v * 255), [1, 3, 20, 24]);
    const got = await b.run(x, [1, 3, 20, 24]);
    let max = 0;
    for (let i = 0; i < got.data.length; i++) max = Math.max(max, Math.abs(got.data[i]! - want.data[i]! / 255));
    // Measured 0 to 2e-7: only float rounding of the folded ×255.
    expect(max).toBeLessThan(1e-5);
    await a.release();
    await b.release();
  });
});

describe('an export with a fixed input size (no dynamic axes)', () => {
  it('is declared free and measured like any other, without touching the caller\'s model', async () => {
    const source = readModelFile(corpusPath('srvgg-x2-interp-size.onnx'));
    const dims = (v: { type?: { tensorType?: { shape?: { dim?: unknown[] } | null } | null } | null }) => v.type!.tensorType!.shape!.dim!;
    dims(source.graph!.input![0]!).splice(2, 2, { dimValue: 64 }, { dimValue: 64 });
    dims(source.graph!.output![0]!).splice(2, 2, { dimValue: 128 }, { dimValue: 128 });
    const { model, description } = await resolveModel(source, { name: 'fixed.onnx', createRunner });
    expect([description.scale, description.border]).toEqual([2, 0]);
    expect(description.rewrites).toContain('input size 64×64 declared fixed by the export → free height and width');
    expect(getMetadata(source, 'srq.scale')).toBeUndefined();
    expect(getMetadata(model, 'srq.scale')).toBe('2');
  });
});

describe('tiling a model that loses a border (waifu2x upconv_7: out = 2·(n − 14))', () => {
  it('upscales to exactly 2× the input, and tiles equal the whole image', async () => {
    const entry = corpus.find((e) => e.border > 0)!;
    const prepared = prepareInferenceModel(await resolveModelFile(corpusPath(entry.file)));
    const photo = toRgb(decodeImage(readFileSync('images/chelsea.png')));
    const img = cropImage(photo, 100, 60, 150, 110);
    const runner = await createRunner(prepared.bytes);
    const whole = await upscaleImage(runner, img, { ...prepared, tileSize: 1024 });
    const tiled = await upscaleImage(runner, img, { ...prepared, tileSize: 48 });
    await runner.release();
    expect([whole.width, whole.height]).toEqual([300, 220]);
    let max = 0;
    for (let i = 0; i < whole.data.length; i++) max = Math.max(max, Math.abs(whole.data[i]! - tiled.data[i]!));
    // Measured 0: every output pixel is computed from the same inputs whichever window holds it.
    expect(max).toBeLessThanOrEqual(1);
  });
});

describe('refusals, one line each', () => {
  const conv = (inputShape: (number | string)[], inputs = ['x']) =>
    makeModel(
      makeGraph({
        name: 'g',
        nodes: [makeNode('Conv', [inputs[0]!, 'w'], ['y'], { kernel_shape: attr.ints([1, 1]) })],
        inputs: inputs.map((n) => makeValueInfo(n, DataType.FLOAT, inputShape)),
        outputs: [makeValueInfo('y', DataType.FLOAT, [1, 3, 'h', 'w'])],
        initializers: [makeTensor('w', DataType.FLOAT, [3, 3, 1, 1], new Float32Array(9).fill(0.3))],
      }),
    );

  it('channels-last input', async () => {
    await expect(resolveModel(conv([1, 'h', 'w', 3]), { name: 'nhwc.onnx', createRunner })).rejects.toThrow(/channels last \(NHWC\); srq takes NCHW/);
  });
  it('two inputs', async () => {
    await expect(resolveModel(conv([1, 3, 'h', 'w'], ['x', 'x2']), { name: 'two.onnx', createRunner })).rejects.toThrow(/has 2 inputs \(x, x2\)/);
  });
  it('a model that does not upscale by a whole factor is named with what was measured', async () => {
    const down = makeModel(
      makeGraph({
        name: 'g',
        nodes: [makeNode('AveragePool', ['x'], ['y'], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) })],
        inputs: [makeValueInfo('x', DataType.FLOAT, [1, 3, 'h', 'w'])],
        outputs: [makeValueInfo('y', DataType.FLOAT, [1, 3, 'h2', 'w2'])],
        initializers: [],
      }),
    );
    await expect(resolveModel(down, { name: 'pool.onnx', createRunner })).rejects.toThrow(/pool.onnx does not upscale by a whole factor \(32×48 → 16×24/);
  });
});
