// The edge worker's parts that need no server: manifest and settings parsing, which precision a host serves
// (stubbed capabilities, including a GPU whose init fails), model integrity, and the embedded models
// themselves: INT8 and FP16 files checked against the FP32 originals on the CPU.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { prepareInferenceModel } from '../src-core/inference-model.ts';
import type { ModelManifest } from '../src-core/manifest.ts';
import { psnr } from '../src-core/metrics/index.ts';
import { resolveModelFile } from '../src-cli/model-args.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { createWebRunner } from '../src-core/runtime/ort-web.ts';
import type { Runner } from '../src-core/runtime/runner.ts';
import { upscaleImage } from '../src-core/tiling/upscale.ts';
import sharp from 'sharp';
import { cropImage, decodeImage, encodeJpeg, encodePng, joinAlpha, type RasterImage } from '../src-core/image/index.ts';
import { loadJpegWasm } from '../src-core/image/jpeg-wasm.node.ts';
import { ConfigError, readConfig } from '../src-edge/config.ts';
import { loadSharpJpeg } from '../src-edge/jpeg-sharp.node.ts';
import { loadNapiPng } from '../src-edge/png-napi.node.ts';
import { Engine, type EdgeRuntime } from '../src-edge/engine.ts';
import { chooseVariant, type HostCapabilities } from '../src-edge/host.ts';
import { ManifestError, parseManifest, type EdgeManifest } from '../src-edge/manifest.ts';
import { ModelIntegrityError, verifyModelFile, type ModelSource } from '../src-edge/model-source.ts';
import { embeddedEntry, photoCrop } from './fixtures/edge/harness.ts';

const manifestUrl = new URL('../src-edge/models/manifest.json', import.meta.url);
const embeddedJson = () => JSON.parse(readFileSync(manifestUrl, 'utf8'));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('the embedded manifest', () => {
  it('parses, lists an INT8 and an FP16 file per default model, and every file matches its size and SHA-256', () => {
    const manifest = parseManifest(embeddedJson(), 'embedded');
    expect(manifest.models[0]!.name).toBe('esrgan-slim-x4'); // the default model
    const names = ['esrgan-slim-x2', 'esrgan-slim-x3', 'esrgan-slim-x4', 'esrgan-slim-x8', 'esrgan-medium-x4', 'realesr-x4fast'];
    for (const name of names) {
      const files = manifest.models.filter((m) => m.name === name);
      expect(files.map((f) => `${f.variant}/${f.host}`).sort()).toEqual(['fp16/gpu', 'int8/cpu']);
      for (const f of files) {
        const bytes = new Uint8Array(readFileSync(new URL(f.file, manifestUrl)));
        expect(bytes.length).toBe(f.bytes);
        expect(sha(bytes)).toBe(f.sha256);
      }
    }
  });

  it('carries the FP32 graph\'s receptive-field radius as the overlap', async () => {
    const manifest = parseManifest(embeddedJson(), 'embedded');
    for (const name of ['esrgan-slim-x4', 'esrgan-medium-x4', 'realesr-x4fast']) {
      const prepared = prepareInferenceModel(await resolveModelFile(`models/${name}.onnx`));
      const entry = manifest.models.find((m) => m.name === name)!;
      expect(entry.overlap).toBe(prepared.overlap);
      expect(entry.scale).toBe(prepared.scale);
    }
  });

  it('is what the Workers bundle imports: every INT8 file, nothing else', () => {
    const src = readFileSync(new URL('../src-edge/models/embedded.workers.ts', import.meta.url), 'utf8');
    const imported = [...src.matchAll(/from '\.\/([^']+\.onnx)'/g)].map((m) => m[1]).sort();
    const keyed = [...src.matchAll(/'([^']+\.onnx)': /g)].map((m) => m[1]).sort();
    const int8 = parseManifest(embeddedJson(), 'embedded').models.filter((m) => m.variant === 'int8').map((m) => m.file).sort();
    expect(imported).toEqual(int8);
    expect(keyed).toEqual(int8);
  });
});

describe('parseManifest', () => {
  const good = { name: 'm', scale: 4, overlap: 10, variant: 'int8', host: 'cpu', file: 'm.onnx', sha256: 'a'.repeat(64), bytes: 10 };
  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', [], /not a JSON object/],
    ['wrong version', { version: 2, models: [good] }, /version 2/],
    ['no models', { version: 1, models: [] }, /no "models" list/],
    ['bad scale', { version: 1, models: [{ ...good, scale: 1.5 }] }, /scale must be an integer >= 1/],
    ['bad variant', { version: 1, models: [{ ...good, variant: 'int4' }] }, /variant must be one of int8, fp16, fp32/],
    ['escaping path', { version: 1, models: [{ ...good, file: '../secret.onnx' }] }, /relative to the manifest/],
    ['absolute URL', { version: 1, models: [{ ...good, file: 'https://elsewhere.example/m.onnx' }] }, /relative to the manifest/],
    ['bad sha', { version: 1, models: [{ ...good, sha256: 'XYZ' }] }, /sha256 must be 64/],
    ['bad memory measure', { version: 1, models: [{ ...good, memory: { baseBytes: -1, bytesPerPixel: 9 } }] }, /memory must be \{ "baseBytes": integer >= 0, "bytesPerPixel": integer >= 0 \}/],
    ['bad native memory measure', { version: 1, models: [{ ...good, nativeMemory: { baseBytes: 0, bytesPerPixel: 1.5 } }] }, /nativeMemory must be \{ "baseBytes": integer >= 0, "bytesPerPixel": integer >= 0 \}/],
    ['duplicate', { version: 1, models: [good, good] }, /repeats the int8 file of m/],
    ['disagreeing variants', { version: 1, models: [good, { ...good, variant: 'fp16', host: 'gpu', overlap: 3 }] }, /disagree on scale, border or overlap/],
  ];
  for (const [what, json, message] of bad) {
    it(`rejects a manifest with ${what} in one line`, () => {
      expect(() => parseManifest(json, 'x.json')).toThrow(ManifestError);
      expect(() => parseManifest(json, 'x.json')).toThrow(message);
      try {
        parseManifest(json, 'x.json');
      } catch (e) {
        expect((e as Error).message).not.toContain('\n');
        expect((e as Error).message).toMatch(/^manifest x\.json: /);
      }
    });
  }

  it('reads what the Action publishes (src-core/manifest.ts: the same entry fields plus provenance)', () => {
    // Type level: a published manifest is an edge manifest (typecheck fails if the shapes drift apart).
    const published: ModelManifest = {
      version: 1,
      srqVersion: '0.1.0',
      models: [{ ...(good as EdgeManifest['models'][number]), quantization: 'int8-static', original: { path: 'models/m.onnx', sha256: 'b'.repeat(64), bytes: 99 } }],
    };
    const asEdge: EdgeManifest = published;
    expect(parseManifest(JSON.parse(JSON.stringify(asEdge)), 'published').models).toEqual([good]);
  });

  it('ignores extra fields (the Action adds metrics and provenance)', () => {
    const m = parseManifest({ version: 1, models: [{ ...good, license: 'MIT', psnrDrop: 0.1 }], commit: 'abc' }, 'x');
    expect(m.models[0]).toEqual(good);
  });
});

describe('readConfig', () => {
  it('has safe defaults', () => {
    const c = readConfig({});
    expect(c).toMatchObject({ tileSize: undefined, memoryMB: undefined, maxConcurrent: 1, maxQueue: 8, maxInputPixels: 1 << 20, maxOutputPixels: 1 << 22, apiKeys: [], corsOrigins: [] });
    expect(c.variant).toBeUndefined();
  });

  it('reads every setting, numbers from Workers vars included', () => {
    const c = readConfig({ SRQ_TILE_SIZE: 64, SRQ_MAX_QUEUE: '0', SRQ_API_KEYS: ' a, b ,', SRQ_CORS_ORIGINS: '*', SRQ_VARIANT: 'fp16', SRQ_THREADS: '2' });
    expect(c).toMatchObject({ tileSize: 64, maxQueue: 0, apiKeys: ['a', 'b'], corsOrigins: ['*'], variant: 'fp16', threads: 2 });
  });

  it('names the variable and the fix on a bad value', () => {
    expect(() => readConfig({ SRQ_TILE_SIZE: 'big' })).toThrow(new ConfigError('SRQ_TILE_SIZE=big is not an integer >= 16; fix or unset it'));
    expect(() => readConfig({ SRQ_VARIANT: 'int4' })).toThrow(/SRQ_VARIANT=int4 is unknown; use int8 or fp16/);
    expect(() => readConfig({ SRQ_MAX_CONCURRENT: '0' })).toThrow(/SRQ_MAX_CONCURRENT=0/);
    expect(() => readConfig({ SRQ_CPU_ENGINE: 'gpu' })).toThrow(new ConfigError('SRQ_CPU_ENGINE=gpu is unknown; use native or wasm, or unset it (native where it loads)'));
  });
});

describe('chooseVariant (stubbed capabilities)', () => {
  const cpu: HostCapabilities = { gpu: undefined, noGpuReason: 'no CUDA provider' };
  const cuda: HostCapabilities = { gpu: { ep: 'cuda', detail: 'test GPU' } };
  const webgpu: HostCapabilities = { gpu: { ep: 'webgpu', detail: 'test adapter' } };

  it('serves INT8 on CPU hosts and FP16 on GPU hosts', () => {
    expect(chooseVariant(cpu, undefined)).toMatchObject({ variant: 'int8', device: 'cpu', reason: 'CPU host (no CUDA provider): INT8 on the CPU' });
    expect(chooseVariant(cuda, undefined)).toMatchObject({ variant: 'fp16', device: 'gpu', gpu: { ep: 'cuda' }, reason: 'GPU host: FP16 on cuda (test GPU)' });
    expect(chooseVariant(webgpu, undefined)).toMatchObject({ variant: 'fp16', device: 'gpu', gpu: { ep: 'webgpu' } });
  });

  it('lets SRQ_VARIANT force either', () => {
    expect(chooseVariant(cuda, 'int8')).toMatchObject({ variant: 'int8', device: 'cpu', reason: 'SRQ_VARIANT=int8 forces INT8 on the CPU' });
    expect(chooseVariant(cpu, 'fp16')).toMatchObject({ variant: 'fp16', device: 'cpu', reason: 'SRQ_VARIANT=fp16 forces FP16; no CUDA provider, so it runs on the CPU' });
    expect(chooseVariant(cuda, 'fp16')).toMatchObject({ variant: 'fp16', device: 'gpu' });
  });
});

describe('Engine on a stubbed host', () => {
  // A runner that upscales nothing: the engine's choices are under test here, not inference.
  const stubRunner = (): Runner => ({
    runtime: 'web',
    inputName: 'input',
    outputName: 'output',
    outputNames: ['output'],
    run: async (_input, dims) => ({ data: new Float32Array(0), dims: [...dims] }),
    runOutputs: async () => ({}),
    release: async () => undefined,
  });
  const file = (text: string) => new TextEncoder().encode(text);
  const files: Record<string, Uint8Array> = { 'm.int8.onnx': file('int8 bytes'), 'm.fp16.onnx': file('fp16 bytes') };
  const entries = Object.entries(files).map(([name, bytes]) => ({
    name: 'm', scale: 2, overlap: 1, variant: name.includes('int8') ? 'int8' : 'fp16', host: name.includes('int8') ? 'cpu' : 'gpu',
    file: name, sha256: sha(bytes), bytes: bytes.length,
  }));
  const source: ModelSource = { describe: 'stub', manifest: async () => ({ version: 1, models: entries }), read: async (f) => files[f]! };

  function host(caps: HostCapabilities, gpuFails: boolean) {
    const made: string[] = [];
    const logs: string[] = [];
    const runtime: EdgeRuntime = {
      name: 'node',
      defaultThreads: 1,
      memoryBudgetMB: 512,
      jpegWasm: async () => { throw new Error('no JPEG here'); },
      wasm: { kind: 'wasm', version: 'stub', create: async (model) => (made.push(`cpu:${new TextDecoder().decode(model)}`), stubRunner()) },
      createGpuRunner: async (model) => {
        made.push(`gpu:${new TextDecoder().decode(model)}`);
        if (gpuFails) throw new Error('CUDA driver version is insufficient');
        return stubRunner();
      },
      probeGpu: async () => caps,
      embedded: () => source,
      log: (line) => logs.push(line),
    };
    return { runtime, made, logs };
  }

  it('runs FP16 on a working GPU', async () => {
    const h = host({ gpu: { ep: 'cuda', detail: 'stub' } }, false);
    const engine = new Engine(h.runtime, readConfig({ SRQ_TILE_SIZE: '16' }));
    await engine.start();
    expect(engine.status()).toEqual({ state: 'ready' });
    expect(h.made).toEqual(['gpu:fp16 bytes']);
    expect((await engine.describe()).serving).toMatchObject({ label: 'gpu-fp16' });
  });

  it('falls back to INT8 on the CPU, with a log line, when GPU init fails', async () => {
    const h = host({ gpu: { ep: 'cuda', detail: 'stub' } }, true);
    const engine = new Engine(h.runtime, readConfig({ SRQ_TILE_SIZE: '16' }));
    await engine.start();
    expect(h.made).toEqual(['gpu:fp16 bytes', 'cpu:int8 bytes']);
    expect(h.logs).toContain('srq-edge: GPU init failed (CUDA driver version is insufficient): INT8 on the CPU');
    expect((await engine.describe()).serving).toMatchObject({ label: 'cpu-int8', reason: 'GPU init failed (CUDA driver version is insufficient): INT8 on the CPU' });
  });

  it('keeps FP16 (on the CPU) when it is forced and the GPU fails', async () => {
    const h = host({ gpu: { ep: 'cuda', detail: 'stub' } }, true);
    const engine = new Engine(h.runtime, readConfig({ SRQ_TILE_SIZE: '16', SRQ_VARIANT: 'fp16' }));
    await engine.start();
    expect(h.made).toEqual(['gpu:fp16 bytes', 'cpu:fp16 bytes']);
  });

  it('never touches the GPU when SRQ_VARIANT=int8', async () => {
    const h = host({ gpu: { ep: 'cuda', detail: 'stub' } }, false);
    await new Engine(h.runtime, readConfig({ SRQ_TILE_SIZE: '16', SRQ_VARIANT: 'int8' })).start();
    expect(h.made).toEqual(['cpu:int8 bytes']);
  });

  // The CPU engine: native onnxruntime-node where the runtime loads it, wasm otherwise, SRQ_CPU_ENGINE to force.
  function withNative(h: ReturnType<typeof host>, load: () => Promise<string>): EdgeRuntime {
    return {
      ...h.runtime,
      loadNative: async () => ({ kind: 'native', version: await load(), create: async (model) => (h.made.push(`native:${new TextDecoder().decode(model)}`), stubRunner()) }),
    };
  }

  it('serves on the native engine where it loads, and says so', async () => {
    const h = host({ gpu: undefined }, false);
    const engine = new Engine(withNative(h, async () => 'onnxruntime-node 9.9.9'), readConfig({ SRQ_TILE_SIZE: '16', SRQ_THREADS: '2' }));
    await engine.start();
    expect(h.made).toEqual(['native:int8 bytes']);
    expect(await engine.describe()).toMatchObject({ backend: 'onnxruntime-node 9.9.9 (native, 2 threads)', cpuEngine: { kind: 'native', reason: 'native onnxruntime-node 9.9.9 loaded' } });
    expect(h.logs.at(-1)).toMatch(/; onnxruntime-node 9\.9\.9 \(native, 2 threads\): native onnxruntime-node 9\.9\.9 loaded$/);
  });

  it('falls back to wasm, with the reason, when the native engine does not load', async () => {
    const h = host({ gpu: undefined }, false);
    const engine = new Engine(withNative(h, async () => { throw new Error('Requires ffi access to "binding.node"\n  at stack'); }), readConfig({ SRQ_TILE_SIZE: '16' }));
    await engine.start();
    expect(h.made).toEqual(['cpu:int8 bytes']);
    expect((await engine.describe()).cpuEngine).toEqual({ kind: 'wasm', reason: 'onnxruntime-node did not load (Requires ffi access to "binding.node"): wasm' });
  });

  it('SRQ_CPU_ENGINE=wasm skips the native engine; =native makes its absence an error, not a silent fallback', async () => {
    const h = host({ gpu: undefined }, false);
    let loads = 0;
    const runtime = withNative(h, async () => (loads++, 'onnxruntime-node 9.9.9'));
    await new Engine(runtime, readConfig({ SRQ_TILE_SIZE: '16', SRQ_CPU_ENGINE: 'wasm' })).start();
    expect([h.made, loads]).toEqual([['cpu:int8 bytes'], 0]);
    const broken = withNative(h, async () => { throw new Error('no binary for linux/riscv64'); });
    const forced = new Engine(broken, readConfig({ SRQ_TILE_SIZE: '16', SRQ_CPU_ENGINE: 'native' }));
    await expect(forced.start()).rejects.toThrow('SRQ_CPU_ENGINE=native, but onnxruntime-node did not load (no binary for linux/riscv64); install it or unset SRQ_CPU_ENGINE');
    const workers = new Engine({ ...h.runtime, name: 'workerd' }, readConfig({ SRQ_TILE_SIZE: '16', SRQ_CPU_ENGINE: 'native' }));
    await expect(workers.start()).rejects.toThrow('SRQ_CPU_ENGINE=native: workerd cannot load onnxruntime-node; unset it to serve on wasm');
  });

  it('answers JPEG and PNG with the native encoders where they load, else with the portable ones, and says why', async () => {
    const h = host({ gpu: undefined }, false);
    const sharpStub = { name: 'sharp 9.9.9 (libvips 9.9.9)', encode: async () => new Uint8Array(1) };
    const native = new Engine({ ...h.runtime, loadNativeJpeg: async () => sharpStub }, readConfig({ SRQ_TILE_SIZE: '16' }));
    expect((await native.describe()).jpegEncoder).toEqual({ name: 'sharp 9.9.9 (libvips 9.9.9)', reason: 'sharp 9.9.9 (libvips 9.9.9) loaded' });
    const broken = new Engine({ ...h.runtime, loadNativeJpeg: async () => { throw new Error('Could not load the "sharp" module using the linux-riscv64 runtime\nPossible solutions: …'); } }, readConfig({ SRQ_TILE_SIZE: '16' }));
    expect((await broken.describe()).jpegEncoder).toEqual({ name: 'MozJPEG wasm (@jsquash/jpeg)', reason: 'sharp did not load (Could not load the "sharp" module using the linux-riscv64 runtime): MozJPEG wasm (@jsquash/jpeg)' });
    const portable = await new Engine(h.runtime, readConfig({ SRQ_TILE_SIZE: '16' })).describe();
    expect(portable.jpegEncoder).toMatchObject({ reason: 'no native encoder on this runtime' });
    expect(portable.pngEncoder).toEqual({ name: "srq's deflate (JS)", reason: 'no native encoder on this runtime' });
    const napi = await new Engine({ ...h.runtime, loadNativePng: loadNapiPng }, readConfig({ SRQ_TILE_SIZE: '16' })).describe();
    expect(napi.pngEncoder).toEqual({ name: expect.stringMatching(/^@napi-rs\/image \d+\.\d+\.\d+, up to 4 row bands at once$/), reason: expect.stringMatching(/^@napi-rs\/image [\d.]+, up to 4 row bands at once loaded$/) });
    const noBinary = new Engine({ ...h.runtime, loadNativePng: async () => { throw new Error('Cannot find native binding.\nnpm has a bug related to optional dependencies'); } }, readConfig({ SRQ_TILE_SIZE: '16' }));
    expect((await noBinary.describe()).pngEncoder).toEqual({ name: "srq's deflate (JS)", reason: "@napi-rs/image did not load (Cannot find native binding.): srq's deflate (JS)" });
  });

  it('refuses a model file whose SHA-256 differs from the manifest, and says so in /healthz terms', async () => {
    const h = host({ gpu: undefined }, false);
    const tampered: ModelSource = { ...source, read: async (f) => (f === 'm.int8.onnx' ? file('int8 bytez') : files[f]!) };
    const engine = new Engine({ ...h.runtime, embedded: () => tampered }, readConfig({}));
    await expect(engine.start()).rejects.toThrow(ModelIntegrityError);
    expect(engine.status()).toMatchObject({ state: 'failed', error: expect.stringMatching(/^m\.int8\.onnx has SHA-256 [0-9a-f]{64} but the manifest says/) });
    expect(h.made).toEqual([]);
  });
});

describe('the sharp JPEG encoder (Node and Deno)', () => {
  const chelsea = () => decodeImage(new Uint8Array(readFileSync(new URL('../images/chelsea.png', import.meta.url))));

  it('writes what the wasm encoder writes (baseline, 4:2:0, MozJPEG\'s quantisation tables): about as many bytes for as many dB', async () => {
    const img = chelsea();
    const bytes = await (await loadSharpJpeg()).encode(img, 90);
    const sof = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1]! >= 0xc0 && bytes[i + 1]! <= 0xc2);
    expect(bytes[sof + 1]).toBe(0xc0); // SOF0: baseline
    expect([bytes[sof + 9], bytes[sof + 11], bytes[sof + 14], bytes[sof + 17]]).toEqual([3, 0x22, 0x11, 0x11]);
    const wasm = await encodeJpeg(img, loadJpegWasm, 90);
    // Measured on chelsea.png at 90: sharp 32863 B, 38.59 dB; wasm 29374 B, 38.25 dB (libjpeg-turbo's DCT and rounding;
    // sharp's standard Huffman tables, MozJPEG's optimised ones).
    expect(bytes.length / wasm.length).toBeGreaterThan(1.0);
    expect(bytes.length / wasm.length).toBeLessThan(1.15);
    const [dbSharp, dbWasm] = [psnr(img, decodeImage(bytes)), psnr(img, decodeImage(wasm))];
    expect(dbSharp - dbWasm).toBeGreaterThan(0.1);
    expect(dbSharp - dbWasm).toBeLessThan(0.6);
  });

  it('drops alpha and keeps the colours, as the wasm encoder does', async () => {
    const rgb = chelsea();
    const alpha: RasterImage = { width: rgb.width, height: rgb.height, channels: 1, data: new Uint8Array(rgb.width * rgb.height).fill(7) };
    const back = decodeImage(await (await loadSharpJpeg()).encode(joinAlpha(rgb, alpha), 95));
    expect(back.channels).toBe(3);
    expect(psnr(rgb, back)).toBeGreaterThan(38);
  });
});

describe('the Node/Deno PNG encoder (@napi-rs/image)', () => {
  it('writes PNGs with the raster\'s channels that libpng (through sharp, which checks every CRC and the Adler-32) reads back exactly', async () => {
    const encoder = await loadNapiPng();
    const photo = decodeImage(new Uint8Array(readFileSync(new URL('../images/astronaut.png', import.meta.url))));
    const grey: RasterImage = { width: photo.width, height: photo.height, channels: 1, data: photo.data.filter((_, i) => i % 3 === 1) };
    const rgba = joinAlpha(photo, grey);
    for (const img of [photo, rgba, grey, cropImage(photo, 0, 0, 7, 5), cropImage(rgba, 3, 3, 1, 1)]) {
      const png = await encoder.encode(img);
      const meta = await sharp(png).metadata();
      expect([meta.width, meta.height, meta.channels]).toEqual([img.width, img.height, img.channels]);
      // sharp hands a grey image over as RGB unless asked for its one band.
      const data = await (img.channels === 1 ? sharp(png).extractChannel(0) : sharp(png)).raw().toBuffer();
      expect(Buffer.from(data).equals(Buffer.from(img.data))).toBe(true);
      const [ours, theirs] = [decodeImage(png), decodeImage(encodePng(img))]; // srq's decoder: grey comes back as RGB
      expect(Buffer.from(ours.data).equals(Buffer.from(theirs.data)) && ours.channels === theirs.channels).toBe(true);
    }
    // About as small as srq's own deflate of the same Paeth rows (measured: 1.04 on this 512² photo, 1.07–1.08 on 1024² upscaled ones).
    expect((await encoder.encode(photo)).length / encodePng(photo).length).toBeLessThan(1.1);
  });

  it('refuses a raster that is not one, as the JS encoder does', async () => {
    const encoder = await loadNapiPng();
    await expect(encoder.encode({ width: 4, height: 4, channels: 3, data: new Uint8Array(5) })).rejects.toThrow(/data has 5 bytes but 4x4x3 needs 48/);
  });
});

describe('verifyModelFile', () => {
  it('accepts the exact file and rejects a changed size', async () => {
    const entry = embeddedEntry('esrgan-slim-x2', 'int8');
    const bytes = new Uint8Array(readFileSync(entry.path));
    await expect(verifyModelFile(bytes, entry)).resolves.toBeUndefined();
    await expect(verifyModelFile(bytes.subarray(1), entry)).rejects.toThrow(new RegExp(`has ${entry.bytes - 1} bytes but the manifest says ${entry.bytes}`));
  });
});

describe('the embedded variants on the CPU (onnxruntime-web)', () => {
  // FP16 is what GPU hosts serve; here it runs through ORT's CPU path, which must give the FP32 result.
  it('FP16 and INT8 esrgan-slim-x4 match the FP32 model (FP16 > 60 dB, INT8 > 30 dB)', async () => {
    const { image } = photoCrop('astronaut.png', 96, 80);
    const fp32 = prepareInferenceModel(await resolveModelFile('models/esrgan-slim-x4.onnx'));
    const run = async (bytes: Uint8Array) => {
      const runner = await createWebRunner(bytes, { threads: 1 });
      try {
        return await upscaleImage(runner, image, { scale: 4, overlap: fp32.overlap, tileSize: 64 });
      } finally {
        await runner.release();
      }
    };
    const reference = await run(fp32.bytes);
    const fp16 = await run(new Uint8Array(readFileSync(embeddedEntry('esrgan-slim-x4', 'fp16').path)));
    const int8 = await run(new Uint8Array(readFileSync(embeddedEntry('esrgan-slim-x4', 'int8').path)));
    expect(psnr(fp16, reference)).toBeGreaterThan(60);
    expect(psnr(int8, reference)).toBeGreaterThan(30);
  });

  // Native (Node, Deno) and wasm (Workers) int8 kernels requantize with different rounding on some files: the
  // bytes may differ, the quality may not. Held-out photo; measured: native 39.04 dB, wasm 39.04 dB from FP32 (before
  // GPTQ weights 37.88 and 37.93; before the weights fit ORT's int16 pair sums, native 36.56 and wasm 36.59).
  it('realesr-x4fast INT8 on native onnxruntime-node and on wasm: equally far from FP32', async () => {
    const { image } = photoCrop('gravel.png', 96, 96);
    const fp32 = prepareInferenceModel(await resolveModelFile('models/realesr-x4fast.onnx'));
    const int8 = new Uint8Array(readFileSync(embeddedEntry('realesr-x4fast', 'int8').path));
    const run = async (runner: Runner) => {
      try {
        return await upscaleImage(runner, image, { scale: 4, overlap: fp32.overlap, tileSize: 96 });
      } finally {
        await runner.release();
      }
    };
    const reference = await run(await createNodeRunner(fp32.bytes, { threads: 1 }));
    const onNative = psnr(await run(await createNodeRunner(int8, { threads: 1, memoryPattern: false })), reference);
    const onWasm = psnr(await run(await createWebRunner(int8, { threads: 1 })), reference);
    console.log(`x4fast INT8 fidelity: native ${onNative.toFixed(2)} dB, wasm ${onWasm.toFixed(2)} dB`);
    expect(Math.abs(onNative - onWasm)).toBeLessThan(0.1);
    expect(Math.min(onNative, onWasm)).toBeGreaterThan(35);
  });
});
