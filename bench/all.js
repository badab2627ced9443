#!/usr/bin/env node
// `npm run bench`: both benchmarks, one after the other.
//  1. bench/tiles.js — per-tile latency of every default model at 128² and 256² on ORT-node and ORT-web, 1 and 2
//     threads (the runtimes compared).
//  2. `srq bench` — per 256² tile, FP32 vs static INT8 vs dynamic INT8 vs FP16 of the ×4 default models on the same
//     runtimes, with model sizes (the variants compared).
//  3. bench/corpus.mjs — static INT8 of the real-world corpus: int8 coverage, size, ORT-node×2 and ORT-web×1 speed-ups
//     (the quantizer's targets on third-party models).
// Tables go to stdout; JSON to bench-results/ (ignored by git). Extra arguments go to bench/tiles.js.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'bench-results');
mkdirSync(out, { recursive: true });

function run(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

console.log('== per-tile latency of the default models (bench/tiles.js) ==');
run(['bench/tiles.js', '--json', join(out, 'tiles.json'), ...process.argv.slice(2)]);
for (const model of ['esrgan-slim-x4', 'esrgan-medium-x4']) {
  console.log(`\n== variants of ${model}, 256² tile (srq bench) ==`);
  run(['bin/srq.js', 'bench', `models/${model}.onnx`, '--tile', '256', '--json', join(out, `variants-${model}.json`)]);
}
console.log('\n== static INT8 on the real-world corpus (bench/corpus.mjs) ==');
run(['bench/corpus.mjs']);
