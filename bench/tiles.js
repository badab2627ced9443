#!/usr/bin/env node
// Per-tile latency of the default SR models on ORT-node (native) and ORT-web (wasm), 1 and 2 threads.
//
//   npm run bench -- [--models a,b] [--sizes 128,256] [--runs 7] [--warmup 2] [--threads 1,2]
//                    [--runtimes node,web] [--rounds 1] [--json out.json]
//
// Node 20 cannot run .ts, so this imports the compiled build/ (tsc -p tsconfig.build.json); it rebuilds
// first when build/ is missing or older than src-core. Each (runtime, threads) pair runs in its own child
// process: ORT-web's wasm thread count is fixed per process, and separate processes keep one
// configuration's thread pools and caches from disturbing another's numbers.
// Reported: median (and min) of --runs timed runs of one tile after --warmup untimed runs, in ms. With
// --rounds N the whole sweep of child processes repeats N times, interleaved, and the median is taken over
// all N*runs samples: on a shared, noisy machine load swings then hit every configuration alike.
import { execFileSync, fork } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_MODELS = ['esrgan-slim-x2', 'esrgan-slim-x4', 'esrgan-medium-x4'];

function parseArgs(argv) {
  const opts = {
    models: DEFAULT_MODELS, sizes: [128, 256], runs: 7, warmup: 2, threads: [1, 2], runtimes: ['node', 'web'],
    rounds: 1, json: undefined, child: false,
  };
  const list = (v) => v.split(',').map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value, e.g. ${arg} 128,256`);
      return v;
    };
    if (arg === '--models') opts.models = list(value());
    else if (arg === '--sizes') opts.sizes = list(value()).map(Number);
    else if (arg === '--runs') opts.runs = Number(value());
    else if (arg === '--warmup') opts.warmup = Number(value());
    else if (arg === '--threads') opts.threads = list(value()).map(Number);
    else if (arg === '--runtimes') opts.runtimes = list(value());
    else if (arg === '--rounds') opts.rounds = Number(value());
    else if (arg === '--json') opts.json = value();
    else if (arg === '--child') opts.child = true;
    else throw new Error(`unknown option ${arg}; see the usage at the top of bench/tiles.js`);
  }
  if (!(opts.runs >= 5)) throw new Error(`--runs ${opts.runs}: use at least 5 for a meaningful median`);
  return opts;
}

// ---- build ----------------------------------------------------------------------------------------------

function newestMtime(dir, ext) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (entry.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuild() {
  const marker = join(root, 'build/src-core/tiling/upscale.js');
  const stale = !existsSync(marker) || newestMtime(join(root, 'src-core'), '.ts') > statSync(marker).mtimeMs;
  if (!stale) return;
  console.error('bench: compiling src-core to build/ (tsc -p tsconfig.build.json) ...');
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], {
      stdio: 'inherit',
    });
  } catch {
    // tsc still emits when other files have type errors; go on if what the bench needs is there.
    if (!existsSync(marker)) throw new Error('build failed and build/src-core is missing; fix the errors above and rerun');
    console.error('bench: tsc reported errors (see above); benchmarking the files it emitted anyway');
  }
}

// ---- child: one runtime, one thread count ----------------------------------------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function runChild(runtime, threads, opts) {
  const { createRunner } = await import(join(root, 'build/src-core/runtime/create-runner.node.js'));
  const { decodeImage } = await import(join(root, 'build/src-core/image/decode.js'));
  const photo = decodeImage(new Uint8Array(readFileSync(join(root, 'images/astronaut.png'))));
  const results = [];
  for (const model of opts.models) {
    const bytes = new Uint8Array(readFileSync(join(root, 'models', `${model}.onnx`)));
    const t0 = performance.now();
    const runner = await createRunner(runtime, bytes, { threads });
    const createMs = performance.now() - t0;
    for (const size of opts.sizes) {
      const input = tileFrom(photo, size);
      const dims = [1, 3, size, size];
      for (let i = 0; i < opts.warmup; i++) await runner.run(input, dims);
      const samples = [];
      for (let i = 0; i < opts.runs; i++) {
        const t = performance.now();
        await runner.run(input, dims);
        samples.push(performance.now() - t);
      }
      results.push({
        model, runtime, threads, tile: size, medianMs: round(median(samples)), minMs: round(Math.min(...samples)),
        samplesMs: samples.map(round), createMs: round(createMs),
      });
      process.stderr.write(`  ${model} ${size}² ${runtime}×${threads}: ${round(median(samples))} ms\n`);
    }
    await runner.release();
  }
  return results;
}

/** A size×size crop of a real photo as NCHW float32 [0,1] (content barely matters for conv speed). */
function tileFrom(img, size) {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const src = ((y % img.height) * img.width + (x % img.width)) * img.channels;
      for (let c = 0; c < 3; c++) out[c * plane + y * size + x] = img.data[src + c] / 255;
    }
  }
  return out;
}

const round = (x) => Math.round(x * 10) / 10;

/** One result per configuration, its statistics over the samples of every round. */
function mergeRounds(rows) {
  const merged = new Map();
  for (const r of rows) {
    const key = `${r.model}|${r.runtime}|${r.threads}|${r.tile}`;
    const m = merged.get(key);
    if (!m) merged.set(key, { ...r, samplesMs: [...r.samplesMs], createMs: [r.createMs] });
    else {
      m.samplesMs.push(...r.samplesMs);
      m.createMs.push(r.createMs);
    }
  }
  return [...merged.values()].map((m) => ({
    ...m, medianMs: round(median(m.samplesMs)), minMs: round(Math.min(...m.samplesMs)), createMs: round(median(m.createMs)),
  }));
}

// ---- parent: one child per configuration, then the table -------------------------------------------------

function runInChild(runtime, threads, argv) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [...argv, '--child', '--runtimes', runtime, '--threads', String(threads)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let results;
    child.on('message', (m) => (results = m));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 && results ? resolve(results) : reject(new Error(`bench child ${runtime}×${threads} exited with ${code}`)),
    );
  });
}

function table(results, opts) {
  const cell = (model, tile, runtime, threads) =>
    results.find((r) => r.model === model && r.tile === tile && r.runtime === runtime && r.threads === threads)?.medianMs;
  const cols = opts.runtimes.flatMap((rt) => opts.threads.map((t) => [rt, t]));
  const ratioThreads = opts.runtimes.includes('node') && opts.runtimes.includes('web') ? opts.threads : [];
  const header = ['model', 'tile', ...cols.map(([rt, t]) => `${rt}×${t} ms`), ...ratioThreads.map((t) => `node/web ×${t}`)];
  const rows = [];
  for (const model of opts.models) {
    for (const tile of opts.sizes) {
      const times = cols.map(([rt, t]) => cell(model, tile, rt, t));
      const ratios = ratioThreads.map((t) => {
        const n = cell(model, tile, 'node', t);
        const w = cell(model, tile, 'web', t);
        return n && w ? (n / w).toFixed(2) : '-';
      });
      rows.push([model, `${tile}²`, ...times.map((x) => (x === undefined ? '-' : String(x))), ...ratios]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

async function main() {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  if (opts.child) {
    const results = await runChild(opts.runtimes[0], opts.threads[0], opts);
    process.send(results);
    // ORT-web's worker threads would keep the process alive.
    process.disconnect();
    process.exit(0);
  }
  for (const m of opts.models) {
    if (!existsSync(join(root, 'models', `${m}.onnx`))) throw new Error(`models/${m}.onnx is missing; import the default models first`);
  }
  ensureBuild();
  const passOn = argv.filter((a, i) => a !== '--json' && argv[i - 1] !== '--json');
  const rounds = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const runtime of opts.runtimes) {
      for (const threads of opts.threads) {
        console.error(`bench: round ${round}/${opts.rounds}, ${runtime} runtime, ${threads} thread(s)`);
        rounds.push(...(await runInChild(runtime, threads, passOn)));
      }
    }
  }
  const results = mergeRounds(rounds);
  const ortVersion = JSON.parse(readFileSync(join(root, 'node_modules/onnxruntime-node/package.json'), 'utf8')).version;
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    onnxruntime: ortVersion,
    runs: opts.runs,
    rounds: opts.rounds,
    warmup: opts.warmup,
    results,
  };
  console.log(table(results, opts));
  console.log('\nnode/web = ORT-node median time / ORT-web median time at equal threads (lower = native faster)');
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n');
    console.log(`wrote ${opts.json}`);
  }
}

main().catch((e) => {
  console.error(`bench: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
