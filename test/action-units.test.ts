// The Action's small decisions on their own: which runtime a runner gets, unpacking dist/ort, what the manifest
// lists (never a failed variant; one int8 file per model), options parsing, and cache keys.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildIdentity } from '../src-action/build-identity.ts';
import { cacheKey, withBuild } from '../src-action/job/cache.ts';
import { SRQ_VERSION } from '../src-core/version.ts';
import { JobInputError, parseLimit, parsePositive, parseVariants, splitList } from '../src-action/job/options.ts';
import { chooseRuntime, readAssets, unpackGroup } from '../src-action/ort-runtime.ts';
import { buildManifest, type ValidatedModel } from '../src-core/manifest.ts';
import type { CandidateResult, ValidationReport } from '../src-core/validate/schema.ts';
import { parseManifest } from '../src-edge/manifest.ts';
import { repoRoot } from './fixtures/action/runner.ts';

describe('runtime choice', () => {
  it('uses onnxruntime-node where its binary is shipped and loads, wasm elsewhere', () => {
    expect(chooseRuntime('auto', true, 'linux-x64')).toBe('node');
    expect(chooseRuntime('auto', false, 'darwin-arm64')).toBe('web');
    expect(chooseRuntime('auto', false, 'win32-x64')).toBe('web');
    expect(chooseRuntime('web', true, 'linux-x64')).toBe('web');
    expect(() => chooseRuntime('node', false, 'darwin-arm64')).toThrow(/ships onnxruntime-node's native binary for linux-x64 only and this runner is darwin-arm64; use runtime: auto/);
  });

  const temp = mkdtempSync(join(tmpdir(), 'srq-unpack-'));
  afterAll(() => rmSync(temp, { recursive: true, force: true }));

  it('unpacks dist/ort to exactly node_modules\' files, once', () => {
    const dir = join(repoRoot, 'dist', 'ort');
    const assets = readAssets(dir)!;
    const wasm = unpackGroup(assets, dir, temp, 'wasm');
    expect(readFileSync(join(wasm, 'ort-wasm-simd-threaded.wasm')).equals(readFileSync(join(repoRoot, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm')))).toBe(true);
    expect(readFileSync(join(wasm, 'ort-wasm-simd-threaded.mjs')).equals(readFileSync(join(repoRoot, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.mjs')))).toBe(true);
    // Present and of the right size: reused, not decompressed again (a broken source would throw otherwise).
    expect(unpackGroup(assets, join(temp, 'nowhere'), temp, 'wasm')).toBe(wasm);
  });
});

function candidate(path: string, drop: number, passed: boolean): CandidateResult {
  const scores = { psnrY: 30 - drop, psnrRgb: 28, ssimY: 0.9, fidelity: 48 };
  return {
    path,
    variant: 'int8-static',
    bytes: 1000,
    latency: { seconds: 1, msPerMegapixel: 1 },
    mean: scores,
    images: [],
    drop: { psnrY: drop, psnrRgb: drop, ssimY: 0 },
    gate: { passed, failures: passed ? [] : [{ image: null, value: drop, limit: 0.1 }] },
  };
}

function validated(candidates: CandidateResult[], quantizations: ValidatedModel['files'][number]['quantization'][]): ValidatedModel {
  const report = {
    schema: 'srq.validation/1',
    srqVersion: '0.1.0',
    date: '2026-01-01T00:00:00Z',
    setup: { scale: 4, lowRes: '', cropBorder: 4, runtime: 'node', threads: null, tileSize: 128 },
    images: [{ name: 'a.png', width: 64, height: 64 }],
    bicubic: { mean: { psnrY: 29, psnrRgb: 27, ssimY: 0.8 }, images: [] },
    reference: { path: 'models/m.onnx', variant: 'fp32', bytes: 4000, latency: { seconds: 2, msPerMegapixel: 2 }, mean: { psnrY: 30, psnrRgb: 28, ssimY: 0.9 }, images: [] },
    candidates,
  } as ValidationReport;
  return {
    name: 'm',
    scale: 4,
    border: 0,
    overlap: 10,
    original: { path: 'models/m.onnx', sha256: 'a'.repeat(64), bytes: 4000 },
    gate: { metric: 'psnr-y', maxDrop: 0.1 },
    report,
    files: quantizations.map((q, i) => ({ quantization: q, file: candidates[i]!.path, sha256: String(i).repeat(64), bytes: 1000 })),
  };
}

describe('manifest', () => {
  it('lists only variants that passed their gate, in the edge worker\'s shape', () => {
    const m = buildManifest([validated([candidate('m.int8.onnx', 0.3, false), candidate('m.fp16.onnx', 0, true)], ['int8-static', 'fp16'])]);
    expect(m.models.map((e) => e.file)).toEqual(['m.fp16.onnx']);
    expect(m.models[0]).toMatchObject({ name: 'm', variant: 'fp16', host: 'gpu', quantization: 'fp16', metrics: { metric: 'psnr-y', maxDrop: 0.1, drop: 0, speedup: 2 } });
    expect(parseManifest(m, 'built').models).toHaveLength(1);
  });

  it('gives a model one int8 entry: the first passing INT8 variant in the order asked', () => {
    const m = buildManifest([validated([candidate('m.int8-dynamic.onnx', 0.05, true), candidate('m.int8.onnx', 0.04, true)], ['int8-dynamic', 'int8-static'])]);
    expect(m.models.map((e) => [e.file, e.variant, e.quantization])).toEqual([['m.int8-dynamic.onnx', 'int8', 'int8-dynamic']]);
  });

  it('never lists a candidate without a gate verdict', () => {
    const ungated = { ...candidate('m.int8.onnx', 0, true) };
    delete ungated.gate;
    expect(buildManifest([validated([ungated], ['int8-static'])]).models).toEqual([]);
  });
});

describe('options', () => {
  it('parses lists, variants and limits, naming the input in errors', () => {
    expect(splitList(' int8-static,\nfp16 ,, ')).toEqual(['int8-static', 'fp16']);
    expect(parseVariants(['fp16', 'fp16', 'int8-dynamic'])).toEqual(['fp16', 'int8-dynamic']);
    expect(() => parseVariants([], 'input variants')).toThrow(JobInputError);
    expect(() => parseLimit('input max-drop', '-1')).toThrow('input max-drop must be a number ≥ 0, got "-1"');
    expect(parsePositive('input memory-budget', '6.5')).toBe(6.5);
    expect(() => parsePositive('input memory-budget', '6GB')).toThrow('input memory-budget must be a number > 0, got "6GB"');
  });

  it('keys the cache by model name, content, options and srq version, within the cache\'s rules', () => {
    const key = cacheKey('esrgan-slim-x4', 'f'.repeat(64), 'e'.repeat(64));
    expect(key).toBe(`srq-${SRQ_VERSION}-esrgan-slim-x4-ffffffffffffffff-eeeeeeeeeeeeeeee`);
    expect(key.length).toBeLessThanOrEqual(512);
    expect(key).not.toContain(',');
  });

  it('makes the Action\'s keys specific to the running build: code hash and ONNX Runtime version', () => {
    const key = cacheKey('esrgan-slim-x4', 'f'.repeat(64), 'e'.repeat(64));
    const a = withBuild(key, { codeSha256: 'a'.repeat(64), onnxruntime: '1.30.0' });
    expect(a).toBe(`${key}-ort1.30.0-aaaaaaaaaaaa`);
    expect(withBuild(key, { codeSha256: 'b'.repeat(64), onnxruntime: '1.30.0' })).not.toBe(a);
    expect(withBuild(key, { codeSha256: 'a'.repeat(64), onnxruntime: '1.31.0' })).not.toBe(a);
    // From sources: this module's hash and the installed onnxruntime-web's version.
    const build = buildIdentity();
    expect(build.codeSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(build.onnxruntime).toBe(JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'onnxruntime-web', 'package.json'), 'utf8')).version);
  });
});
