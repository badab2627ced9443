// `npm run bench:edge`: first the response encoders on 1024² outputs (bench/codecs.mjs; skip with --skip-codecs),
// then per-image latency against UpscalerJS on every runtime (bench/edge-latency.mjs; skip with --skip-latency, pick
// runtimes with --runtimes node-1,node-2,deno-1,node-wasm-1,deno-wasm-1,workerd-1, requests with --rounds N), then the load benchmark (skip
// with --skip-load).
//
// Load benchmark of the edge worker's Node entry. Starts the compiled entry on a free
// loopback port with its default settings, then for concurrency 1, 4 and 16 sends a 128² photo (one tile of
// esrgan-slim-x4 INT8) in a closed loop, bounded in time and count. Reports requests/s, p50/p99 latency,
// the share of 429s (clients wait Retry-After, as a polite client would) and the server's peak RSS. Then
// times the same photo through a plain ORT session on the server's engine (onnxruntime-node when it serves
// native, else onnxruntime-web; no srq tiling, codecs or HTTP), alternating with srq requests, to show srq's overhead.
//
// Options: --seconds N per concurrency level (default 15), --max N requests per level (default 150).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { decode } from 'fast-png';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { codecs } from './codecs.mjs';
import { latency, median, post } from './edge-latency.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg('seconds', 15);
const MAX_REQUESTS = arg('max', 150);
const LEVELS = [1, 4, 16];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (!process.argv.includes('--skip-codecs')) await codecs();
if (!process.argv.includes('--skip-latency')) {
  const j = process.argv.indexOf('--runtimes');
  await latency({ rounds: arg('rounds', 5), ...(j > 0 ? { runtimes: process.argv[j + 1].split(',') } : {}) });
}
if (process.argv.includes('--skip-load')) process.exit(0);

// A 128×128 crop from the middle of a shipped photo, as PNG.
const { cropImage, decodeImage, encodePng } = await import('../build/src-core/image/index.js');
const full = decodeImage(new Uint8Array(readFileSync(`${root}/images/astronaut.png`)));
const crop = cropImage(full, (full.width - 128) >> 1, (full.height - 128) >> 1, 128, 128);
const png = encodePng(crop);

// The server: the real Node entry, default limits (1 running, 8 queued, windows from the memory budget).
const child = spawn(process.execPath, ['build/src-edge/entry.node.js'], { cwd: root, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
let log = '';
child.stdout.on('data', (d) => (log += d));
child.stderr.on('data', (d) => (log += d));
const stop = () => child.kill('SIGTERM');
process.on('exit', stop);

function rssMb() {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function ready() {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const url = /listening on (http:\/\/[\d.:]+)/.exec(log)?.[1];
    if (url) {
      const res = await fetch(`${url}/healthz`).catch(() => undefined);
      if (res?.status === 200) return url;
    }
    await sleep(200);
  }
  throw new Error(`server not ready in 60 s:\n${log}`);
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function level(url, concurrency) {
  // Open the clients' keep-alive connections first, as a connection-pooling client would: a Node server busy in
  // wasm accepts new connections late (measured: up to ~11 s at 16), which would hide its queueing behind accept.
  await Promise.all(Array.from({ length: concurrency }, () => new Promise((resolve) => request(`${url}/healthz`, (res) => res.resume().on('end', resolve)).end())));
  const ok = [];
  const timings = { decode: [], infer: [], encode: [] };
  let total = 0;
  let rejected = 0;
  let other = 0;
  let peak = rssMb();
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 100);
  const started = performance.now();
  const endAt = started + SECONDS * 1000;
  const client = async () => {
    while (performance.now() < endAt && total < MAX_REQUESTS) {
      total++;
      const t = performance.now();
      const res = await post(`${url}/v1/upscale`, png);
      if (res.status === 200) {
        ok.push(performance.now() - t);
        for (const [, name, dur] of (res.headers['server-timing'] ?? '').matchAll(/(\w+);dur=([\d.]+)/g)) timings[name]?.push(Number(dur));
      } else if (res.status === 429) {
        rejected++;
        await sleep(Math.min(Number(res.headers['retry-after'] ?? 1) * 1000, Math.max(0, endAt - performance.now())));
      } else if (other++ === 0) console.error(`first unexpected answer: HTTP ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const sorted = [...ok].sort((a, b) => a - b);
  return {
    concurrency,
    requests: total,
    'ok/s': +(ok.length / seconds).toFixed(2),
    'p50 ms': Math.round(percentile(sorted, 50)),
    'p99 ms': Math.round(percentile(sorted, 99)),
    '429 share': `${((100 * rejected) / total).toFixed(0)}%`,
    errors: other,
    'peak RSS MB': Math.round(peak),
    'decode/infer/encode ms': ['decode', 'infer', 'encode'].map((k) => median(timings[k]).toFixed(0)).join('/'),
  };
}

/** The same photo through plain onnxruntime-web: session.run on a [1,3,128,128] tensor, no srq code at all. */
async function plainOrtSession(engine, threads) {
  const manifest = JSON.parse(readFileSync(`${root}/src-edge/models/manifest.json`, 'utf8'));
  const entry = manifest.models.find((m) => m.name === 'esrgan-slim-x4' && m.variant === 'int8');
  const bytes = readFileSync(`${root}/src-edge/models/${entry.file}`);
  const ort = engine === 'native' ? ortNode : ortWeb;
  ortWeb.env.wasm.numThreads = threads;
  const session = engine === 'native'
    ? await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, enableMemPattern: false })
    : await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const img = decode(png);
  const plane = 128 * 128;
  const input = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) input[c * plane + i] = img.data[i * img.channels + c] / 255;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input, [1, 3, 128, 128]) };
  await session.run(feeds); // warm-up, as the server's
  return {
    async time() {
      const t = performance.now();
      await session.run(feeds);
      return performance.now() - t;
    },
    release: () => session.release(),
  };
}

/** Plain ORT and one srq request, alternating, so that the machine's noise hits both alike. */
async function overhead(url, engine, threads, rounds = 15) {
  const plain = await plainOrtSession(engine, threads);
  const ortMs = [];
  const srqMs = [];
  for (let i = 0; i < rounds; i++) {
    ortMs.push(await plain.time());
    const t = performance.now();
    const res = await post(`${url}/v1/upscale`, png);
    if (res.status !== 200) throw new Error(`srq answered HTTP ${res.status}`);
    srqMs.push(performance.now() - t);
  }
  await plain.release();
  return { ort: median(ortMs), srq: median(srqMs) };
}

try {
  const url = await ready();
  const models = await (await fetch(`${url}/v1/models`)).json();
  console.log(`srq edge bench: Node entry at ${url}, ${models.serving.label} (${models.backend}), ${models.defaultModel}, ${models.tileSize ? `tiles of ${models.tileSize}` : `windows within ${models.memoryBudgetMB} MB of memory`}`);
  console.log(`limits: ${models.limits.maxConcurrent} running + ${models.limits.maxQueue} queued; photo 128x128 PNG (${png.length} bytes) -> 512x512; ${SECONDS} s or ${MAX_REQUESTS} requests per level; idle RSS ${Math.round(rssMb())} MB\n`);
  const rows = [];
  for (const c of LEVELS) rows.push(await level(url, c));
  console.table(rows);
  const threads = Math.min(availableParallelism(), 4);
  const engine = models.cpuEngine.kind;
  const { ort: plain, srq } = await overhead(url, engine, threads);
  console.log(`\nsame photo, alternating (medians of 15): plain ${engine === 'native' ? 'onnxruntime-node' : 'onnxruntime-web'} session.run (${threads} threads, same INT8 file) ${plain.toFixed(0)} ms;`);
  console.log(`srq over HTTP ${srq.toFixed(0)} ms -> srq's overhead (HTTP, PNG decode/encode, tiling) ${(srq - plain).toFixed(0)} ms (${((100 * (srq - plain)) / srq).toFixed(0)}% of the request)`);
} finally {
  stop();
}
process.exit(0);
