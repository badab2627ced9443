// Every command a new user runs on a model, with no --scale and no srq metadata: it must describe itself (scale,
// border), upscale to exactly s× with tiles equal to the whole image, quantize to static INT8, dynamic INT8 and FP16
// files that load, and validate. Shared by the corpus test and the x4plus test.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../src-core/image/decode.ts';
import { encodePng } from '../../src-core/image/png-encode.ts';
import { cropImage, toRgb } from '../../src-core/image/raster.ts';
import { srq } from './cli.ts';

const work = mkdtempSync(join(tmpdir(), 'srq-every-command-'));

// A small photo crop keeps every model's runs short; 160×120 splits into several tiles for every model whose
// context fits (srq raises a tile to hold 2·overlap + 32 px; the 6-block RRDB's 94 px each side do not).
const photo = join(work, 'crop.png');
writeFileSync(photo, encodePng(cropImage(toRgb(decodeImage(readFileSync('images/chelsea.png'))), 130, 70, 160, 120)));
const gt = join(work, 'gt.png');
writeFileSync(gt, encodePng(cropImage(toRgb(decodeImage(readFileSync('images/rocket.jpg'))), 200, 120, 96, 96)));

function maxDiff(a: string, b: string): number {
  const [x, y] = [decodeImage(readFileSync(a)), decodeImage(readFileSync(b))];
  expect([x.width, x.height]).toEqual([y.width, y.height]);
  let max = 0;
  for (let i = 0; i < x.data.length; i++) max = Math.max(max, Math.abs(x.data[i]! - y.data[i]!));
  return max;
}

/** `quantizeArgs` are added to each `srq quantize` (a deep model's test may trade calibration quality for time). */
export function throughEveryCommand(name: string, path: () => string, expected: { scale: number; border: number }, opts: { quantizeArgs?: string[]; timeoutMs?: number } = {}): void {
  describe(name, () => {
    it(`info measures ×${expected.scale}, border ${expected.border}`, () => {
      const r = srq(['info', path(), '--json']);
      expect(r.code, r.stderr).toBe(0);
      const { description } = JSON.parse(r.stdout);
      expect([description.scale, description.border]).toEqual([expected.scale, expected.border]);
    }, opts.timeoutMs);

    it('upscale: exactly s× the input, tiled equal to whole', () => {
      const [whole, tiled] = [join(work, `${name}-whole.png`), join(work, `${name}-tiled.png`)];
      expect(srq(['upscale', path(), photo, '-o', whole, '--tile', '512']).code).toBe(0);
      const r = srq(['upscale', path(), photo, '-o', tiled, '--tile', '48']);
      expect(r.code, r.stderr).toBe(0);
      const img = decodeImage(readFileSync(tiled));
      expect([img.width, img.height]).toEqual([160 * expected.scale, 120 * expected.scale]);
      expect(maxDiff(whole, tiled)).toBeLessThanOrEqual(1);
    }, opts.timeoutMs);

    it('quantize: static INT8, dynamic INT8 and FP16 files that load; validate scores them', () => {
      const outs: string[] = [];
      for (const mode of ['int8-static', 'int8-dynamic', 'fp16']) {
        const out = join(work, `${name}.${mode}.onnx`);
        const r = srq(['quantize', path(), '-o', out, '--mode', mode, '--calib-tiles', '4', '--tile', '48', ...(mode === 'int8-static' ? opts.quantizeArgs ?? [] : [])]);
        expect(r.code, `${mode}: ${r.stderr}`).toBe(0);
        const info = JSON.parse(srq(['info', out, '--json']).stdout);
        expect(info.precision).toBe(mode);
        expect([info.description.scale, info.description.border]).toEqual([expected.scale, expected.border]);
        outs.push(out);
      }
      const json = join(work, `${name}.report.json`);
      const v = srq(['validate', path(), ...outs, '--images', gt, '--json', json, '--tile', '48']);
      expect(v.code, v.stderr).toBe(0);
      const report = JSON.parse(readFileSync(json, 'utf8'));
      expect(report.setup.scale).toBe(expected.scale);
      expect(report.candidates).toHaveLength(3);
      // Fidelity (dB vs FP32's output; null = identical 8-bit output). FP16 is close to FP32 on every model
      // (measured ≥ 63 dB); INT8 is a picture of the same photo.
      const fidelity = (c: { mean: { fidelity: number | null } }) => c.mean.fidelity ?? Infinity;
      expect(fidelity(report.candidates[2])).toBeGreaterThan(55);
      for (const c of report.candidates) expect(fidelity(c)).toBeGreaterThan(30);
    }, opts.timeoutMs);
  });
}

