// srq validate's quality gate end to end through the real binary: a passing and a failing gate (exit codes, the
// one-line reason, JSON and Markdown reports naming the failed images), fidelity and SSIM gates, and bad input.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ValidationReport } from '../src-core/validate/schema.ts';
import { expectOneLineError, srq } from './helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'srq-validate-gate-'));
const fp32 = 'models/esrgan-slim-x4.onnx';
const int8 = join(work, 'slim-x4-int8.onnx');
const fp16 = join(work, 'slim-x4-fp16.onnx');
const dynamic = join(work, 'slim-x4-dynamic.onnx');
const photos = ['--images', 'images/chelsea.png', '--images', 'images/coffee.png'];

const lastLine = (text: string) => text.trim().split('\n').pop()!;
const readReport = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as ValidationReport;

beforeAll(() => {
  // Static INT8 with min/max ranges, nearest rounding, no equalization and no bias correction: coarse enough that the failing gate
  // below has a drop to name on both photos (measured 0.027 and 0.011 dB; with equalization coffee.png dropped under
  // 0.002 dB).
  for (const [mode, out, ...flags] of [['int8-static', int8, '--calib-method', 'minmax', '--no-bias-correction', '--no-equalization', '--no-gptq'], ['fp16', fp16], ['int8-dynamic', dynamic]]) {
    const r = srq(['quantize', fp32, '-o', out!, '--mode', mode!, '--calib-tiles', '8', ...flags]);
    expect(r.code, r.stderr).toBe(0);
  }
});

describe('srq validate gate', () => {
  it('passes (exit 0) when INT8 stays within 0.1 dB mean / 0.2 dB per image, and says so in one line and in the reports', () => {
    const json = join(work, 'pass.json');
    const md = join(work, 'pass.md');
    const r = srq(['validate', fp32, int8, ...photos, '--max-drop', '0.1', '--max-image-drop', '0.2', '--json', json, '--markdown', md]);
    expect(r.code, r.stderr).toBe(0);
    expect(lastLine(r.stdout)).toMatch(/^gate passed: .*slim-x4-int8\.onnx drops 0\.0\d\d dB PSNR-Y on average \(limit 0\.100 dB\), worst image (chelsea|coffee)\.png 0\.\d{3} dB \(limit 0\.200 dB\)$/);
    expect(r.stdout).toMatch(/slim-x4-int8\.onnx\s+int8-static\s+\d+ kB \(2\d%\)/);
    const report = readReport(json);
    expect(report.schema).toBe('srq.validation/1');
    expect(report.gate).toMatchObject({ passed: true, limits: { metric: 'psnr-y', maxDrop: 0.1, maxImageDrop: 0.2 } });
    expect(report.candidates[0]!.gate).toEqual({ passed: true, failures: [] });
    expect(report.candidates[0]!.drop.psnrY).toBeGreaterThan(0);
    expect(report.candidates[0]!.mean.fidelity).toBeGreaterThan(40);
    expect(report.setup).toMatchObject({ scale: 4, cropBorder: 4, runtime: 'node', tileSize: 128 });
    expect(report.setup.lowRes).toMatch(/MATLAB imresize bicubic \(Keys a = -0\.5, antialiased\)/);
    const markdown = readFileSync(md, 'utf8');
    expect(markdown).toMatch(/^✅ \*\*gate passed/m);
    expect(markdown).toMatch(/\| model \| variant \| size \| PSNR-Y dB \| drop PSNR-Y \| SSIM-Y \| fidelity dB \| latency \(speedup\) \| result \|/);
    expect(markdown).toMatch(/\| slim-x4-int8\.onnx \| int8-static \| .* \| ✅ pass \|/);
  });

  it('fails (exit 1) past the limits, naming each failed image and by how much, in the line, JSON and Markdown', () => {
    const json = join(work, 'fail.json');
    const md = join(work, 'fail.md');
    const r = srq(['validate', fp32, int8, fp16, ...photos, '--max-drop', '0.001', '--max-image-drop', '0.002', '--json', json, '--markdown', md]);
    expect(r.code, r.stderr).toBe(1);
    const reason = lastLine(r.stdout);
    expect(reason).toMatch(/^gate failed: .*slim-x4-int8\.onnx drops 0\.\d{3} dB PSNR-Y on average \(limit 0\.001 dB\), 2 of 2 images over 0\.002 dB: chelsea\.png 0\.\d{3} dB, coffee\.png 0\.\d{3} dB; /);
    // FP16 is within even these limits: the gate judges each candidate.
    expect(reason).toMatch(/slim-x4-fp16\.onnx drops -?0\.00\d dB PSNR-Y on average \(limit 0\.001 dB\), worst image/);
    const report = readReport(json);
    expect(report.gate!.passed).toBe(false);
    expect(report.gate!.reason).toBe(reason);
    const [i8, f16] = report.candidates;
    expect(f16!.gate!.passed).toBe(true);
    expect(i8!.gate!.passed).toBe(false);
    expect(i8!.gate!.failures.map((f) => f.image)).toEqual([null, 'chelsea.png', 'coffee.png']);
    for (const f of i8!.gate!.failures) expect(f.value).toBeGreaterThan(f.limit);
    expect(i8!.gate!.failures[1]!.value).toBeCloseTo(i8!.images[0]!.drop!.psnrY, 9);
    const markdown = readFileSync(md, 'utf8');
    expect(markdown).toMatch(/^❌ \*\*gate failed/m);
    expect(markdown).toMatch(/\| slim-x4-int8\.onnx \| int8-static \| .* \| ❌ fail \|/);
    expect(markdown).toMatch(/- slim-x4-int8\.onnx: chelsea\.png PSNR-Y drop 0\.\d{3} dB > 0\.002 dB \(by 0\.\d{3} dB\)/);
    expect(markdown).toMatch(/- slim-x4-int8\.onnx: mean over all images PSNR-Y drop/);
  });

  it('gates on fidelity as a minimum in dB (for GAN-style models), and on SSIM drops', () => {
    const low = srq(['validate', fp32, int8, ...photos, '--min-fidelity', '40', '--min-image-fidelity', '40']);
    expect(low.code, low.stderr).toBe(0);
    expect(lastLine(low.stdout)).toMatch(/^gate passed: .*slim-x4-int8\.onnx fidelity \d\d\.\d{3} dB on average \(minimum 40\.000 dB\), worst image/);
    const high = srq(['validate', fp32, int8, fp16, ...photos, '--min-image-fidelity', '60']);
    expect(high.code).toBe(1);
    expect(lastLine(high.stdout)).toMatch(/slim-x4-int8\.onnx fidelity \d\d\.\d{3} dB on average, 2 of 2 images under 60\.000 dB: chelsea\.png \d\d\.\d{3} dB, coffee\.png/);
    const ssim = srq(['validate', fp32, int8, ...photos, '--metric', 'ssim', '--max-drop', '0.01']);
    expect(ssim.code, ssim.stderr).toBe(0);
    expect(lastLine(ssim.stdout)).toMatch(/drops 0\.\d{4} SSIM-Y on average \(limit 0\.0100\)/);
  });

  it('gates nothing without limits (exit 0) and says so; dynamic INT8 (whose reach the graph cannot state) tiles with the reference\'s overlap', () => {
    const r = srq(['validate', fp32, int8, dynamic, '--images', 'images/chelsea.png']);
    expect(r.code, r.stderr).toBe(0);
    expect(lastLine(r.stdout)).toMatch(/^no limits given .*nothing gated$/);
    expect(r.stdout).toMatch(/slim-x4-dynamic\.onnx\s+int8-dynamic\s+\d+ kB \(2\d%\)\s+\d\d\.\d\d\s+-?0\.0\d\d/);
  });
});

describe('srq validate bad input: exit 2, one line, nothing written', () => {
  const json = join(work, 'never.json');
  const cases: [string, string[], RegExp][] = [
    ['only one model', ['validate', fp32], /needs a reference model and at least one candidate/],
    ['a limit that is not a number', ['validate', fp32, fp32, '--max-drop', 'abc'], /--max-drop must be a number ≥ 0, got "abc"/],
    ['a negative limit', ['validate', fp32, fp32, '--max-image-drop=-1'], /--max-image-drop must be a number ≥ 0/],
    ['an unknown metric', ['validate', fp32, fp32, '--metric', 'lpips'], /--metric must be one of psnr-y, psnr-rgb, ssim, fidelity/],
    ['a drop limit on fidelity', ['validate', fp32, fp32, '--metric', 'fidelity', '--max-drop', '1'], /fidelity is a minimum, not a drop: use --min-fidelity/],
    ['a fidelity limit on a drop metric', ['validate', fp32, fp32, '--metric', 'ssim', '--min-fidelity', '40'], /--min-fidelity gates fidelity/],
    ['a missing model', ['validate', fp32, 'nope.onnx', '--json', json], /cannot read model nope\.onnx: no such file/],
    ['a missing image', ['validate', fp32, fp32, '--images', 'nope.png', '--json', json], /image path nope\.png does not exist/],
    ['models of different scales', ['validate', fp32, 'models/esrgan-slim-x2.onnx', '--images', 'images/chelsea.png', '--json', json], /esrgan-slim-x2\.onnx upscales ×2 with border 0 but the reference .* ×4 with border 0; compare variants of one model/],
    ['an image too small', ['validate', fp32, fp32, '--images', 'test/fixtures/validate/lr/x8/chelsea.png', '--json', json], /image chelsea\.png is 8×8; at ×4 validation needs at least 19×19 px/],
    ['a report over an input', ['validate', fp32, fp32, '--json', fp32], /is also an input/],
  ];
  it.each(cases)('%s', (_name, args, message) => {
    const r = srq(args);
    expect(r.code).toBe(2);
    expect(expectOneLineError(r)).toMatch(message);
    expect(existsSync(json)).toBe(false);
  });
});
