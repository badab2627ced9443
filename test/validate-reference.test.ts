// srq validate's numbers against scikit-image's on the same image pairs: ground-truth crops of the test photos and
// the default models' outputs, committed as PNGs with skimage's numbers (scripts/validate-reference.py).
// SRQ_WRITE_FIXTURES=1 regenerates the PNGs instead (see test/fixtures/validate/fixtures.ts).
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareEvalImages, scoreOutputs } from '../src-core/validate/evaluate.ts';
import type { Scores, ValidationReport } from '../src-core/validate/schema.ts';
import { fixturesDir, gtName, INT8, INT8_QUANTIZE_ARGS, MODELS, PHOTOS, readPng, writeFixtures } from './fixtures/validate/fixtures.ts';
import { srq } from './helpers/cli.ts';

interface SkimageScores { psnr_y: number; psnr_rgb: number; ssim_y: number }
interface Reference {
  outputs: Record<string, Record<string, SkimageScores>>;
  fidelity: Record<string, Record<string, number>>;
  bicubic: Record<string, Record<string, SkimageScores>>;
  lr: Record<string, { max_abs_diff: number; share_differing: number }>;
}

const writing = process.env.SRQ_WRITE_FIXTURES === '1';
const work = mkdtempSync(join(tmpdir(), 'srq-validate-ref-'));
const int8 = join(work, `${INT8}.onnx`);
const images = PHOTOS.map(gtName);
const gtDir = join(fixturesDir, 'gt');
const scaleOf = (model: string) => Number(/x(\d)/.exec(model)![1]);
let reference: Reference;

/** The agreement bounds: 0.01 dB for PSNR, 0.001 for SSIM. */
function expectAgrees(srqScores: { psnrY: number; psnrRgb: number; ssimY: number }, sk: SkimageScores, what: string) {
  expect(Math.abs(srqScores.psnrY - sk.psnr_y), `${what} PSNR-Y ${srqScores.psnrY} vs skimage ${sk.psnr_y}`).toBeLessThanOrEqual(0.01);
  expect(Math.abs(srqScores.psnrRgb - sk.psnr_rgb), `${what} PSNR-RGB ${srqScores.psnrRgb} vs skimage ${sk.psnr_rgb}`).toBeLessThanOrEqual(0.01);
  expect(Math.abs(srqScores.ssimY - sk.ssim_y), `${what} SSIM-Y ${srqScores.ssimY} vs skimage ${sk.ssim_y}`).toBeLessThanOrEqual(0.001);
}

beforeAll(async () => {
  if (writing) {
    const q = srq([...INT8_QUANTIZE_ARGS, '-o', int8]);
    expect(q.code, q.stderr).toBe(0);
    await writeFixtures(int8);
  } else {
    reference = JSON.parse(readFileSync(join(fixturesDir, 'reference.json'), 'utf8'));
  }
});

describe.skipIf(writing)('srq validate agrees with scikit-image', () => {
  it('scores the committed output/ground-truth pairs as skimage does (PSNR-Y, PSNR-RGB, SSIM-Y, fidelity)', () => {
    const gt = images.map((name) => ({ name, image: readPng(join(gtDir, name)) }));
    for (const model of [...MODELS, INT8]) {
      const scale = scaleOf(model);
      const evalImages = prepareEvalImages(gt, scale);
      const outputs = images.map((name) => readPng(join(fixturesDir, 'out', model, name)));
      const base = INT8 === model || model === 'esrgan-medium-x4' ? images.map((name) => readPng(join(fixturesDir, 'out', 'esrgan-slim-x4', name))) : undefined;
      const scores = scoreOutputs(evalImages, outputs, scale, base);
      scores.forEach((s, i) => {
        expectAgrees(s, reference.outputs[model]![images[i]!]!, `${model} ${images[i]}`);
        if (base) expect(Math.abs(s.fidelity! - reference.fidelity[model]![images[i]!]!)).toBeLessThanOrEqual(0.01);
      });
    }
  });

  it('makes the LR inputs with MATLAB bicubic (antialiased): the numpy port agrees within 1 level, and srq reproduces the fixtures', () => {
    for (const [scale, d] of Object.entries(reference.lr)) {
      expect(d.max_abs_diff, scale).toBeLessThanOrEqual(1);
      expect(d.share_differing, scale).toBeLessThan(0.01);
    }
    const gt = images.map((name) => ({ name, image: readPng(join(gtDir, name)) }));
    for (const scale of [2, 3, 4, 8]) {
      for (const { name, lr } of prepareEvalImages(gt, scale)) expect(lr.data).toEqual(readPng(join(fixturesDir, 'lr', `x${scale}`, name)).data);
    }
  });

  // The committed models only: the quantizer's output changes whenever the quantizer improves, the models do not
  // (the INT8 pairs above are checked as images).
  it('reports skimage numbers end to end: srq validate on every default model', () => {
    const runs: [string, string[]][] = [
      ['esrgan-slim-x2', ['esrgan-slim-x2']],
      ['esrgan-slim-x3', ['esrgan-slim-x3']],
      ['esrgan-slim-x8', ['esrgan-slim-x8']],
      ['esrgan-slim-x4', ['esrgan-medium-x4']],
    ];
    for (const [ref, candidates] of runs) {
      const json = join(work, `${ref}.json`);
      const paths = [ref, ...candidates].map((m) => `models/${m}.onnx`);
      const r = srq(['validate', ...paths, '--images', gtDir, '--json', json]);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(readFileSync(json, 'utf8')) as ValidationReport;
      expect(report.images.map((i) => i.name)).toEqual(images);
      const check = (model: string, scores: (Scores & { image: string })[]) =>
        scores.forEach((s) => expectAgrees(s, reference.outputs[model]![s.image]!, `${model} ${s.image}`));
      check(ref, report.reference.images);
      report.candidates.forEach((c, k) => {
        const model = candidates[k]!;
        check(model, c.images);
        for (const s of c.images) {
          if (model === ref) expect(s.fidelity).toBeNull(); // identical outputs: infinite PSNR
          else expect(Math.abs(s.fidelity! - reference.fidelity[model]![s.image]!), `${model} ${s.image} fidelity`).toBeLessThanOrEqual(0.01);
        }
      });
      // Bicubic baseline: srq's resize vs the numpy MATLAB port, both scored.
      for (const s of report.bicubic.images) expectAgrees(s, reference.bicubic[`x${report.setup.scale}`]![s.image]!, `bicubic ${s.image}`);
    }
  });
});

it.runIf(writing)('writes the fixtures', () => {
  expect(existsSync(join(gtDir, images[0]!))).toBe(true);
});
