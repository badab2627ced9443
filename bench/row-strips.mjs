#!/usr/bin/env node
// `npm run bench:row-strips [-- int8.onnx ...]`: what the served form (row strips, src-core/runtime/served-form.node.ts)
// does to static INT8 files: the convs it splits, onnxruntime-web's memory a window pixel before → after, and the
// split file's speed against the original on one 256² tile (`srq bench`, the two files taking turns, medians of 5):
// ORT-node with 2 threads and ORT-web with 1 thread. Default: the INT8 files the edge embeds as `srq quantize`
// makes them (the committed ones are already split) and waifu2x upconv_7 from the corpus.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { servedForm } from '../build/src-core/runtime/served-form.node.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const temp = mkdtempSync(join(tmpdir(), 'srq-row-strips-'));

function srq(args) {
  const r = spawnSync(process.execPath, [join(root, 'bin/srq.js'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`srq ${args[0]} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return r.stdout;
}

/** The split file's median time as a share of the original's on one runtime and thread count. */
function ratio(original, split, runtime, threads) {
  const json = join(temp, `bench-${runtime}.json`);
  srq(['bench', original, split, '--runtimes', runtime, '--threads', String(threads), '--tile', '256', '--runs', '5', '--json', json]);
  const [a, b] = JSON.parse(readFileSync(json, 'utf8')).results;
  return (b.medianMs / a.medianMs).toFixed(2);
}

let files = process.argv.slice(2);
if (files.length === 0) {
  files = [];
  for (const model of ['models/esrgan-slim-x4.onnx', 'models/esrgan-medium-x4.onnx', 'test/fixtures/corpus/waifu2x-upconv7-x2.onnx', 'models/realesr-x4fast.onnx']) {
    const out = join(temp, basename(model).replace(/\.onnx$/, '.int8.onnx'));
    console.log(`srq quantize ${model} …`);
    srq(['quantize', model, '-o', out]);
    files.push(out);
  }
}
const rows = [];
for (const file of files) {
  const served = await servedForm(readFileSync(file));
  const row = { file: basename(file), split: served.rowStrips.map((c) => `${c.node}${c.concat ? ' with its Concat' : ''} in ${c.strips}`).join(', ') || 'none' };
  row['wasm B/px'] = served.before ? `${served.before.bytesPerPixel} → ${served.memory.bytesPerPixel}` : String(served.memory.bytesPerPixel);
  if (served.rowStrips.length) {
    const split = join(temp, basename(file).replace(/\.onnx$/, '.strips.onnx'));
    writeFileSync(split, served.bytes);
    row['node×2 split/original'] = ratio(file, split, 'node', 2);
    row['web×1 split/original'] = ratio(file, split, 'web', 1);
  }
  if (served.refused) row.refused = served.refused;
  rows.push(row);
}
console.table(rows);
