#!/usr/bin/env node
// `npm run bench:quality [-- model.onnx ...]`: static INT8 quality with each post-training method on and off, per
// model, scored on srq's held-out evaluation photos (calibrated on its calibration photos), as `srq run` does.
// Columns: fidelity (RGB PSNR of INT8 vs FP32 output), mean and worst PSNR-Y drop vs FP32 against ground truth,
// int8 coverage and quantize time. Default models: the embedded ones and the real-world corpus. Each row is one
// `srq run --max-drop 10` (a budget that never starts the accuracy-aware search). JSON to bench-results/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { realWorldCorpus } from './corpus-models.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// `--only a,b`: run only the methods with these keys (e.g. `--only default,no-gptq`).
const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1].split(',') : undefined;
const models = args.length > 0 ? args : [
  'models/esrgan-slim-x4.onnx', 'models/esrgan-medium-x4.onnx', ...realWorldCorpus(root),
];
// Each post-training method off in turn against the default (weight rounding for ORT's int16 pair sums and kept
// kernel sums has no switch: it fixes wrong results on x86 without VNNI; its before is the README's earlier table).
const methods = [
  ['default', 'default (equalization, GPTQ, MSE ranges, bias corr.)', []],
  ['no-equalization', 'no equalization', ['--no-equalization']],
  ['no-gptq', 'no GPTQ (nearest rounding)', ['--no-gptq']],
  ['no-bias-correction', 'no bias correction', ['--no-bias-correction']],
  ['percentile', 'percentile 99.999 ranges', ['--calib-method', 'percentile']],
].filter(([key]) => !only || only.includes(key)).map(([, label, flags]) => [label, flags]);

const rows = [];
console.log('| model | method | fidelity dB | mean drop dB | worst drop dB | int8 coverage | quantize s |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
for (const model of models) {
  for (const [label, flags] of methods) {
    const out = mkdtempSync(join(tmpdir(), 'srq-bench-quality-'));
    const started = performance.now();
    const r = spawnSync(process.execPath, ['bin/srq.js', 'run', model, '--variants', 'int8-static', '--max-drop', '10', '--out', out, ...flags], { cwd: root, encoding: 'utf8' });
    const seconds = Number(/int8-static: [\d.]+ MB in ([\d.]+) s/.exec(r.stderr + r.stdout)?.[1] ?? (performance.now() - started) / 1000);
    const reports = join(out, 'reports');
    const reportFile = existsSync(reports) ? readdirSync(reports).find((f) => f.endsWith('.report.json')) : undefined;
    if (r.status !== 0 || !reportFile) {
      console.log(`| ${basename(model, '.onnx')} | ${label} | failed (exit ${r.status}) | | | | |`);
      rmSync(out, { recursive: true, force: true });
      continue;
    }
    const c = JSON.parse(readFileSync(join(reports, reportFile), 'utf8')).candidates[0];
    const row = {
      model: basename(model, '.onnx'), method: label, fidelity: c.mean.fidelity, meanDrop: c.drop.psnrY,
      worstDrop: Math.max(...c.images.map((i) => i.drop.psnrY)), coverage: c.coverage?.int8MacShare, seconds,
    };
    rows.push(row);
    console.log(`| ${row.model} | ${label} | ${row.fidelity.toFixed(2)} | ${row.meanDrop.toFixed(3)} | ${row.worstDrop.toFixed(3)} | ${((row.coverage ?? 0) * 100).toFixed(0)}% | ${seconds.toFixed(0)} |`);
    rmSync(out, { recursive: true, force: true });
  }
}
mkdirSync(join(root, 'bench-results'), { recursive: true });
writeFileSync(join(root, 'bench-results', 'quality.json'), JSON.stringify(rows, null, 2) + '\n');
