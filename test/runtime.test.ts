// Both runners, real ORT builds, same models: they must agree, and the Runner contract must hold.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunner } from '../src-core/runtime/create-runner.node.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';
import { createWebRunner, webThreadsInUse, WasmThreadsLockedError } from '../src-core/runtime/ort-web.ts';
import {
  RunnerInputError, RunnerOptionsError, RunnerReleasedError, type Runner,
} from '../src-core/runtime/runner.ts';
import { encodeModel } from '../src-core/onnx/model.ts';
import { makeValueInfo } from '../src-core/onnx/build.ts';
import { DataType } from '../src-core/onnx/tensor.ts';
import { buildSyntheticSr, syntheticSrBytes } from './fixtures/tiling/synthetic-sr.ts';
import { centreCrop, toNchw } from './fixtures/tiling/images.ts';

const DEFAULT_MODELS = ['esrgan-slim-x2', 'esrgan-slim-x4', 'esrgan-medium-x4'];
const modelPath = (name: string) => new URL(`../models/${name}.onnx`, import.meta.url);

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

// The first web runner of this process fixes the wasm thread count for all of them: 2 here, set up
// front so that running any single test (vitest -t) sees the same count.
const WEB_THREADS = 2;
beforeAll(async () => {
  await (await createWebRunner(syntheticSrBytes(), { threads: WEB_THREADS })).release();
});

describe('ORT-node and ORT-web agree', () => {
  const photo = centreCrop('chelsea.png', 45, 37); // odd sizes on purpose
  const input = toNchw(photo);
  const dims = [1, 3, photo.height, photo.width];

  it('on a synthetic SR net (fp32, within 1e-4)', async () => {
    const model = syntheticSrBytes({ scale: 2 });
    const node = await createNodeRunner(model, { threads: 1 });
    const web = await createWebRunner(model, { threads: WEB_THREADS });
    try {
      const a = await node.run(input, dims);
      const b = await web.run(input, dims);
      expect(a.dims).toEqual([1, 3, 74, 90]);
      expect(b.dims).toEqual(a.dims);
      expect(maxDiff(a.data, b.data)).toBeLessThan(1e-4);
      expect(node.runtime).toBe('node');
      expect(web.runtime).toBe('web');
    } finally {
      await node.release();
      await web.release();
    }
  });

  for (const name of DEFAULT_MODELS) {
    it.runIf(existsSync(modelPath(name)))(`on the default model ${name} (fp32, within 1e-4)`, async () => {
      const model = new Uint8Array(readFileSync(modelPath(name)));
      const node = await createRunner('node', model, { threads: 2 });
      const web = await createRunner('web', model, { threads: WEB_THREADS });
      try {
        const a = await node.run(input, dims);
        const b = await web.run(input, dims);
        expect(a.dims[2]! / photo.height).toBe(a.dims[3]! / photo.width);
        expect(b.dims).toEqual(a.dims);
        expect(maxDiff(a.data, b.data)).toBeLessThan(1e-4);
      } finally {
        await node.release();
        await web.release();
      }
    });
  }
});

describe('Runner contract', () => {
  let runners: Runner[] = [];
  const model = buildSyntheticSr({ scale: 2 });
  // Expose an intermediate tensor as a second graph output, as calibration will.
  model.graph!.output!.push(makeValueInfo('conv0_relu', DataType.FLOAT, [1, 8, null, null]));
  const bytes = encodeModel(model);

  beforeAll(async () => {
    runners = [await createNodeRunner(bytes, { threads: 1 }), await createWebRunner(bytes)];
  });
  afterAll(async () => {
    for (const r of runners) await r.release();
  });

  const input = toNchw(centreCrop('coffee.png', 16, 12));
  const dims = [1, 3, 12, 16];

  it('names the model input and outputs', () => {
    for (const r of runners) {
      expect(r.inputName).toBe('input');
      expect(r.outputName).toBe('output');
      expect(r.outputNames).toEqual(['output', 'conv0_relu']);
    }
  });

  it('runOutputs returns intermediate tensors, consistent with run()', async () => {
    for (const r of runners) {
      const outs = await r.runOutputs(input, dims, ['conv0_relu', 'output']);
      expect(outs.conv0_relu!.dims).toEqual([1, 8, 12, 16]);
      expect(Math.min(...outs.conv0_relu!.data)).toBe(0); // it is after a Relu: clipped at 0 somewhere
      const plain = await r.run(input, dims);
      expect(maxDiff(outs.output!.data, plain.data)).toBe(0);
    }
  });

  it('rejects output names that are not graph outputs, naming the fix', async () => {
    for (const r of runners) {
      await expect(r.runOutputs(input, dims, ['conv1'])).rejects.toThrow(/add it to graph.output/);
    }
  });

  it('rejects data that does not match dims', async () => {
    for (const r of runners) {
      await expect(r.run(input, [1, 3, 12, 15])).rejects.toBeInstanceOf(RunnerInputError);
      await expect(r.run(input, [1, 3, 0, 16])).rejects.toBeInstanceOf(RunnerInputError);
    }
  });

  it('serialises concurrent runs on one session and returns each caller its own result', async () => {
    const other = toNchw(centreCrop('astronaut.png', 16, 12));
    for (const r of runners) {
      const [a, b, c] = await Promise.all([r.run(input, dims), r.run(other, dims), r.run(input, dims)]);
      expect(maxDiff(a.data, c.data)).toBe(0);
      expect(maxDiff(a.data, b.data)).toBeGreaterThan(0.01);
    }
  });

  it('throws after release, and release is idempotent', async () => {
    const r = await createNodeRunner(bytes, { threads: 1 });
    const w = await createWebRunner(bytes);
    for (const x of [r, w]) {
      await x.release();
      await x.release();
      await expect(x.run(input, dims)).rejects.toBeInstanceOf(RunnerReleasedError);
    }
  });
});

describe('options', () => {
  const model = syntheticSrBytes();

  it('web threads are fixed by the first web runner of the process', async () => {
    expect(webThreadsInUse()).toBe(WEB_THREADS);
    // Same count (explicit or unset) is fine; another count would silently not apply, so it throws.
    await (await createWebRunner(model, { threads: WEB_THREADS })).release();
    await (await createWebRunner(model)).release();
    await expect(createWebRunner(model, { threads: 1 })).rejects.toBeInstanceOf(WasmThreadsLockedError);
    await expect(createWebRunner(model, { threads: 1 })).rejects.toThrow(/separate process/);
  });

  it('rejects bad thread counts and unknown optimisation levels', async () => {
    await expect(createNodeRunner(model, { threads: 0 })).rejects.toBeInstanceOf(RunnerOptionsError);
    await expect(createNodeRunner(model, { threads: 1.5 })).rejects.toBeInstanceOf(RunnerOptionsError);
    await expect(
      createNodeRunner(model, { graphOptimizationLevel: 'max' as 'all' }),
    ).rejects.toBeInstanceOf(RunnerOptionsError);
    await expect(createRunner('gpu' as 'node', model)).rejects.toBeInstanceOf(RunnerOptionsError);
    await expect(createNodeRunner(model, { memoryPattern: 'low' as unknown as boolean })).rejects.toThrow(/memoryPattern must be true or false, got low/);
    await expect(createNodeRunner(model, { spinning: 'no' as unknown as boolean })).rejects.toThrow(/spinning must be true or false, got no/);
  });

  it('a session without the memory pattern, without spinning, and the default thread count, give the same output', async () => {
    const input = toNchw(centreCrop('rocket.jpg', 20, 20));
    const outs: Float32Array[] = [];
    for (const opts of [{ threads: 1 }, { threads: 1, memoryPattern: false }, { threads: 2, spinning: false }, {}]) {
      const r = await createNodeRunner(model, opts);
      outs.push((await r.run(input, [1, 3, 20, 20])).data);
      await r.release();
    }
    for (const o of outs) expect(maxDiff(o, outs[0]!)).toBeLessThan(1e-5);
  });

  it('ORT-node writes the optimised model when asked; ORT-web refuses the option', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'srq-runtime-'));
    try {
      const file = join(dir, 'optimized.onnx');
      const r = await createNodeRunner(model, { threads: 1, graphOptimizationLevel: 'basic', optimizedModelFilePath: file });
      await r.release();
      expect(statSync(file).size).toBeGreaterThan(1000);
      await expect(createWebRunner(model, { optimizedModelFilePath: file })).rejects.toBeInstanceOf(RunnerOptionsError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every optimisation level gives the same output on ORT-node', async () => {
    const input = toNchw(centreCrop('rocket.jpg', 20, 20));
    const outs: Float32Array[] = [];
    for (const level of ['disabled', 'basic', 'extended', 'all'] as const) {
      const r = await createNodeRunner(model, { threads: 1, graphOptimizationLevel: level });
      outs.push((await r.run(input, [1, 3, 20, 20])).data);
      await r.release();
    }
    for (const o of outs) expect(maxDiff(o, outs[0]!)).toBeLessThan(1e-5);
  });
});

describe('portability', () => {
  it('runtime-agnostic files import no Node built-ins and no native ORT', async () => {
    const { readdirSync } = await import('node:fs');
    // Node-only files say so in their name (`*.node.ts`); ort-node.ts is the native binding itself.
    const nodeOnly = (f: string) => f === 'ort-node.ts' || f.endsWith('.node.ts');
    const offenders: string[] = [];
    for (const dir of ['runtime', 'tiling']) {
      const base = new URL(`../src-core/${dir}/`, import.meta.url);
      for (const f of readdirSync(base)) {
        if (!f.endsWith('.ts') || nodeOnly(f)) continue;
        const src = readFileSync(new URL(f, base), 'utf8');
        if (/from\s+'node:|from\s+'(fs|path|os|url|child_process|worker_threads)'|\bBuffer\.|onnxruntime-node|process\./.test(src)) {
          offenders.push(`${dir}/${f}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
