// The Action's small decisions on their own: which runtime a runner gets, unpacking dist/ort, what the manifest
// lists (never a failed variant; one int8 file per model), options parsing, and cache keys.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildIdentity } from '../src-action/build-identity.ts';
import { cacheKey, withBuild } from '../src-action/job/cache.ts';
import { SRQ_VERSION } from '../src-core/version.ts';
import { JobInputError, parseLimit, parsePositive, parseQualityBudget, parseVariants, splitList } from '../src-action/job/options.ts';
import { budgetText, dropGateWarning, withinBudget } from '../src-core/validate/gate.ts';
import { slowerLines } from '../src-core/report/summary.ts';
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

  it('records a fidelity gate as its minimum, with the PSNR-Y drop for reference', () => {
    const model = { ...validated([candidate('m.int8.onnx', 0.3, true)], ['int8-static']), gate: { metric: 'fidelity', minFidelity: 40 } as const };
    const m = buildManifest([model]);
    expect(m.models[0]!.metrics).toMatchObject({ metric: 'fidelity', minFidelity: 40, drop: 0.3, fidelity: 48 });
    expect(m.models[0]!.metrics).not.toHaveProperty('maxDrop');
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

  it('reads the gate: a drop by default, fidelity when a minimum is given, conflicts refused by name', () => {
    const names = { metric: 'input metric', maxDrop: 'input max-drop', minFidelity: 'input min-fidelity' };
    expect(parseQualityBudget({ metric: '', maxDrop: '', minFidelity: '' }, names)).toEqual({ metric: 'psnr-y', maxDrop: 0.1 });
    expect(parseQualityBudget({ metric: 'ssim', maxDrop: '0.002' }, names)).toEqual({ metric: 'ssim', maxDrop: 0.002 });
    expect(parseQualityBudget({ minFidelity: ' 38.5 ' }, names)).toEqual({ metric: 'fidelity', minFidelity: 38.5 });
    expect(parseQualityBudget({ metric: 'fidelity', minFidelity: '40' }, names)).toEqual({ metric: 'fidelity', minFidelity: 40 });
    expect(() => parseQualityBudget({ metric: 'fidelity' }, names)).toThrow('input metric fidelity needs input min-fidelity <dB>');
    expect(() => parseQualityBudget({ maxDrop: '0.1', minFidelity: '40' }, names)).toThrow('a fidelity gate is a minimum, not a drop: give input min-fidelity <dB> without input max-drop');
    expect(() => parseQualityBudget({ metric: 'ssim', minFidelity: '40' }, names)).toThrow('input min-fidelity gates fidelity, not ssim');
    expect(() => parseQualityBudget({ metric: 'psnr' }, names)).toThrow('input metric must be one of psnr-y, psnr-rgb, ssim, fidelity, got "psnr"');
    expect(() => parseQualityBudget({ minFidelity: '-3' }, names)).toThrow('input min-fidelity must be a number ≥ 0, got "-3"');
  });

  it('says a budget, judges a candidate by it, and warns when a drop gate says little', () => {
    const c = candidate('m.int8.onnx', 0.05, true);
    expect(budgetText({ metric: 'psnr-y', maxDrop: 0.1 })).toBe('mean PSNR-Y drop ≤ 0.1 dB');
    expect(budgetText({ metric: 'fidelity', minFidelity: 40 })).toBe('mean fidelity ≥ 40 dB');
    expect(withinBudget({ metric: 'psnr-y', maxDrop: 0.1 }, c)).toEqual({ value: 0.05, within: true });
    expect(withinBudget({ metric: 'fidelity', minFidelity: 50 }, c)).toEqual({ value: 48, within: false });
    // FP32 at 30 dB PSNR-Y against bicubic's 29: no warning; below bicubic (a GAN model), a drop gate gets one.
    const { report } = validated([c], ['int8-static']);
    expect(dropGateWarning(report, { metric: 'psnr-y' })).toBeUndefined();
    const gan = { ...report, bicubic: { ...report.bicubic, mean: { ...report.bicubic.mean, psnrY: 31.2 } } };
    expect(dropGateWarning(gan, { metric: 'psnr-y' })).toMatch(/^FP32 scores below bicubic against the ground truth \(PSNR-Y 30\.00 vs 31\.20 dB\).*gate it on fidelity/);
    expect(dropGateWarning(gan, { metric: 'fidelity' })).toBeUndefined();
  });

  it('names INT8 files that ran slower than FP32 in validation, never FP16 (made for GPUs)', () => {
    const slow = { ...candidate('m.int8-dynamic.onnx', 0, true), variant: 'int8-dynamic', latency: { seconds: 2.5, msPerMegapixel: 1 } } as CandidateResult;
    const fp16 = { ...candidate('m.fp16.onnx', 0, true), variant: 'fp16', latency: { seconds: 2.5, msPerMegapixel: 1 } } as CandidateResult;
    const { report } = validated([candidate('m.int8.onnx', 0, true), slow, fp16], ['int8-static', 'int8-dynamic', 'fp16']);
    // FP32 takes 2 s: the static file (1 s) is faster, the dynamic one (2.5 s) 0.80×; FP16's CPU time is not judged.
    expect(slowerLines(report)).toEqual([
      "m.int8-dynamic.onnx ran at 0.80× FP32's speed in validation (ORT-node): slower than the model it replaces, so its gain is size only; serve FP32 where speed matters",
    ]);
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
