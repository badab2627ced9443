#!/usr/bin/env node
// `npm run bench:corpus [-- model.onnx ...]`: static INT8 on the real-world corpus against the quantizer issue's
// targets. Per model: `srq quantize` with the defaults (its int8 coverage line: share of conv/matmul MACs ORT runs
// in int8 kernels, Q/DQ left), the file size against the FP32 file, and `srq bench` of FP32 (after srq's exact
// rewrites, as srq serves it) against INT8 on one 256² tile: ORT-node with 2 threads and ORT-web with 1 thread.
// A model with PReLUs gets a row for each of their int8 forms (`--prelu mul-add|pair-conv|whole`; the default is
// pair-conv on ORT-node and whole on ORT-web, both timed on each runtime here).
// Quality is `npm run bench:quality`'s job. Each step is a child process; about 30 minutes on a 2-core machine.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { realWorldCorpus } from './corpus-models.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function srq(args) {
  const r = spawnSync(process.execPath, [join(root, 'bin/srq.js'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`srq ${args[0]} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return `${r.stdout}\n${r.stderr}`;
}

/** Each file's median time against the first's on one runtime and thread count (srq bench: the files take turns). */
function speedups(fp32, files, runtime, threads, temp) {
  const json = join(temp, `bench-${runtime}-${threads}.json`);
  srq(['bench', fp32, ...files, '--runtimes', runtime, '--threads', String(threads), '--tile', '256', '--runs', '5', '--json', json]);
  const [base, ...own] = JSON.parse(readFileSync(json, 'utf8')).results;
  return own.map((o) => ({ fp32Ms: base.medianMs, int8Ms: o.medianMs, speedup: base.medianMs / o.medianMs }));
}

const models = process.argv.slice(2).length ? process.argv.slice(2) : realWorldCorpus(root);
const missing = models.filter((m) => !existsSync(m));
if (missing.length) {
  console.error(`bench:corpus: no such model file: ${missing.join(', ')}`);
  process.exit(2);
}
console.log('| model | int8 coverage (MACs) | Q/DQ left | size | node×2: FP32 → INT8 ms | web×1: FP32 → INT8 ms |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const model of models) {
  const name = basename(model, '.onnx');
  const info = spawnSync(process.execPath, [join(root, 'bin/srq.js'), 'info', model, '--json'], { cwd: root, encoding: 'utf8' });
  const prelus = info.status === 0 ? JSON.parse(info.stdout).ops?.PRelu ?? 0 : 0;
  const forms = prelus > 0 ? ['mul-add', 'pair-conv', 'whole'] : [undefined];
  const labels = forms.map((f) => (f ? `${name} (--prelu ${f})` : name));
  const temp = mkdtempSync(join(tmpdir(), 'srq-bench-corpus-'));
  try {
    const files = forms.map((f) => join(temp, `${name}.${f ?? 'default'}.int8.onnx`));
    // --min-coverage 0: the bench reports coverage rather than failing on it.
    const logs = forms.map((f, i) => srq(['quantize', model, '-o', files[i], '--min-coverage', '0', ...(f ? ['--prelu', f] : [])]));
    // The forms take turns with FP32 in one run per runtime: their times compare within a row and across rows.
    const node = speedups(model, files, 'node', 2, temp);
    const web = speedups(model, files, 'web', 1, temp);
    const ms = (s) => `${s.fp32Ms.toFixed(0)} → ${s.int8Ms.toFixed(0)} (${s.speedup.toFixed(2)}×)`;
    for (const [i, label] of labels.entries()) {
      const coverage = /int8 coverage: ([\d.]+%) of MACs \(([^)]*)\), Q\/DQ left: (\d+\/\d+)/.exec(logs[i]);
      const size = statSync(files[i]).size / statSync(model).size;
      console.log(`| ${label} | ${coverage?.[1] ?? '?'} (${coverage?.[2] ?? '?'}) | ${coverage?.[3] ?? '?'} | ${(100 * size).toFixed(0)}% | ${ms(node[i])} | ${ms(web[i])} |`);
    }
  } catch (e) {
    console.log(`| ${labels[0]} | failed: ${e.message} | | | | |`);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}
console.log('\nFP32 = the model after srq\'s exact rewrites (as srq serves it); one 256² tile of a photo, median of 5 runs.');
