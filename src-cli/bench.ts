// srq bench: latency and size of a model's variants (fp32, int8-static, int8-dynamic, fp16) on onnxruntime-node and
// onnxruntime-web (the edge path), with the speedup over FP32.
// Each (runtime, threads) pair runs in its own child process: ORT-web's wasm thread count is fixed per process,
// and separate processes keep one configuration's thread pools from disturbing another's numbers. Within a child
// the variants take turns run by run (a, b, c, a, b, c...), so load swings on a shared machine hit them alike.
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { readImageFile, readImages } from '../src-core/image/image-files.node.ts';
import { cropImage } from '../src-core/image/raster.ts';
import { cloneModel, encodeModel } from '../src-core/onnx/model.ts';
import type { ModelProto } from '../src-core/onnx/types.ts';
import { optimizeGraph } from '../src-core/optimize/index.ts';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import { builtInImagesDir, builtInPhotos, packageRoot } from '../src-core/package-root.node.ts';
import { cutCalibrationTiles, rasterToTensor } from '../src-core/quantize/calibration-tiles.ts';
import { quantizeDynamic } from '../src-core/quantize/dynamic.ts';
import { convertToFp16 } from '../src-core/quantize/fp16.ts';
import { quantizeStatic } from '../src-core/quantize/static.ts';
import { formatBytes } from '../src-core/report/summary.ts';
import { createRunner } from '../src-core/runtime/create-runner.node.ts';
import type { Runner } from '../src-core/runtime/runner.ts';
import { tileLatencies, type TileLatency } from '../src-core/validate/latency.ts';
import { intFlag, parse } from './args.ts';
import { EXIT_OK, UsageError } from './errors.ts';
import { checkOutputPath, endProgress, progressReporter, writeOutput } from './files.ts';

const help = `usage: srq bench <model.onnx> [options]
       srq bench <baseline.onnx> <variant.onnx>... [options]

Times one tile of a real photo through every variant, on onnxruntime-node (native) and onnxruntime-web (wasm, the
edge path): median of --runs runs, the variants taking turns. With one FP32 model, srq makes the variants on the fly:
fp32 is the model after srq's exact graph rewrites (what every variant is made from and what srq serves), so the
speedups show the precision alone. With several files, they are timed as given and the first is the baseline.

  --variants <list>       on-the-fly variants (default fp32,int8-static,int8-dynamic,fp16)
  --runtimes <list>       node,web (default both)
  --threads <list>        thread counts (default 1,2)
  --tile N                tile size in input pixels (default 128)
  --runs N                timed runs per variant (default 9, at least 5)
  --calib <dir|file>      int8-static calibration images (default: srq's built-in photos; 8 tiles: speed does
                          not depend on calibration quality)
  --json <file>           results as JSON (schema srq.bench/1)`;

const VARIANTS = ['fp32', 'int8-static', 'int8-dynamic', 'fp16'] as const;
type Variant = (typeof VARIANTS)[number];

interface ChildJob { runtime: 'node' | 'web'; threads: number; files: string[]; tile: number; runs: number }
interface Timing { file: string; latency: TileLatency }

export interface BenchReport {
  schema: 'srq.bench/1';
  date: string;
  node: string;
  cpu: string;
  cores: number;
  onnxruntime: string;
  tile: number;
  runs: number;
  variants: { name: string; bytes: number }[];
  results: { variant: string; runtime: 'node' | 'web'; threads: number; medianMs: number; minMs: number; speedup: number }[];
}

const list = (flag: string, value: string | undefined, fallback: string[]) => {
  const items = (value ?? fallback.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${flag} needs a comma-separated list`);
  return items;
};

export async function benchCommand(argv: string[]): Promise<number> {
  const childJob = process.env.SRQ_BENCH_CHILD;
  if (childJob) return runChild(JSON.parse(childJob) as ChildJob);
  const { values, positionals } = parse('bench', argv, {
    variants: { type: 'string' },
    runtimes: { type: 'string' },
    threads: { type: 'string' },
    tile: { type: 'string' },
    runs: { type: 'string' },
    calib: { type: 'string', multiple: true },
    json: { type: 'string' },
  });
  if (values.help) return console.log(help), EXIT_OK;
  if (positionals.length === 0) throw new UsageError('bench needs a model (srq bench <model.onnx>) or several variant files');
  if (positionals.length > 1 && values.variants) throw new UsageError('--variants makes variants of one model; with several files, each file is a variant');
  const variants = list('variants', values.variants, [...VARIANTS]).map((v) => {
    if (!(VARIANTS as readonly string[]).includes(v)) throw new UsageError(`--variants: unknown variant "${v}"; use ${VARIANTS.join(', ')}`);
    return v as Variant;
  });
  const runtimes = list('runtimes', values.runtimes, ['node', 'web']).map((r): 'node' | 'web' => {
    if (r !== 'node' && r !== 'web') throw new UsageError(`--runtimes: unknown runtime "${r}"; use node, web`);
    return r;
  });
  const threads = list('threads', values.threads, ['1', '2']).map((t) => intFlag('threads', t, 1));
  const tile = intFlag('tile', values.tile, 128, 8);
  const runs = intFlag('runs', values.runs, 9, 5);
  if (values.json) checkOutputPath(values.json, positionals);

  const dir = mkdtempSync(join(tmpdir(), 'srq-bench-'));
  try {
    const named = positionals.length > 1
      ? positionals.map((path, i) => ({ name: basename(path), file: path, bytes: statSync(path).size, prepared: prepareFile(path, dir, i) }))
      : await makeVariants(positionals[0]!, variants, dir, values.calib);
    const timings = new Map<string, TileLatency>();
    for (const runtime of runtimes) {
      for (const t of threads) {
        console.error(`bench: ${runtime} runtime, ${t} thread${t === 1 ? '' : 's'}`);
        for (const { file, latency } of await inChild({ runtime, threads: t, files: named.map((n) => n.prepared), tile, runs })) {
          timings.set(`${file}|${runtime}|${t}`, latency);
        }
      }
    }
    const results = named.flatMap((n) =>
      runtimes.flatMap((runtime) =>
        threads.map((t) => {
          const own = timings.get(`${n.prepared}|${runtime}|${t}`)!;
          const base = timings.get(`${named[0]!.prepared}|${runtime}|${t}`)!;
          return { variant: n.name, runtime, threads: t, medianMs: own.medianMs, minMs: own.minMs, speedup: base.medianMs / own.medianMs };
        }),
      ),
    );
    console.log(table(named, results, runtimes, threads));
    console.log(`\nmedian ms per ${tile}² tile over ${runs} runs (variants interleaved); (n×) = speedup over ${named[0]!.name}; size = file bytes`);
    if (values.json) {
      const report: BenchReport = {
        schema: 'srq.bench/1',
        date: new Date().toISOString(),
        node: process.version,
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        onnxruntime: JSON.parse(readFileSync(join(packageRoot(), 'node_modules/onnxruntime-node/package.json'), 'utf8')).version,
        tile,
        runs,
        variants: named.map((n) => ({ name: n.name, bytes: n.bytes })),
        results,
      };
      writeOutput(values.json, JSON.stringify(report, null, 2) + '\n', positionals);
      console.log(`wrote ${values.json}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return EXIT_OK;
}

/** A model as srq serves it: exact graph rewrites applied (bench times one tile, so no overlap is needed). */
function servedBytes(model: ModelProto): Uint8Array {
  const optimized = cloneModel(model);
  optimizeGraph(optimized);
  return encodeModel(optimized);
}

/** A file as srq serves it, written where the child can load it. */
function prepareFile(path: string, dir: string, index: number): string {
  const out = join(dir, `${index}-${basename(path)}`);
  writeFileSync(out, servedBytes(readModelFile(path)));
  return out;
}

async function makeVariants(path: string, variants: readonly Variant[], dir: string, calib: string[] | undefined) {
  const model = readModelFile(path);
  const progress = progressReporter();
  const made = [];
  for (const v of variants) {
    progress(`bench: making ${v}`);
    let variant;
    if (v === 'fp32') variant = model;
    else if (v === 'int8-dynamic') variant = quantizeDynamic(model, { name: path }).model;
    else if (v === 'fp16') variant = convertToFp16(model, { name: path }).model;
    else {
      const tiles = cutCalibrationTiles(readImages(calib?.length ? calib : builtInPhotos('calibration')), { count: 8, tileSize: 128 });
      variant = (await quantizeStatic(model, { tiles, createRunner: (bytes) => createRunner('node', bytes), name: path })).model;
    }
    const file = join(dir, `${v}.onnx`);
    writeFileSync(file, servedBytes(variant));
    // Size as srq would write the variant; fp32 is the rewritten graph, same weights as the input.
    made.push({ name: v, file, bytes: v === 'fp32' ? statSync(path).size : encodeModel(variant).length, prepared: file });
  }
  endProgress();
  return made;
}

function inChild(job: ChildJob): Promise<Timing[]> {
  return new Promise((resolve, reject) => {
    const child = fork(process.argv[1]!, ['bench'], {
      env: { ...process.env, SRQ_BENCH_CHILD: JSON.stringify(job) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let timings: Timing[] | undefined;
    child.on('message', (m) => (timings = m as Timing[]));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 && timings ? resolve(timings) : reject(new Error(`bench: the ${job.runtime}×${job.threads} run failed (exit ${code}); see the messages above`)),
    );
  });
}

/** In the child: load every variant, time one tile of a real photo, send the timings to the parent. */
async function runChild(job: ChildJob): Promise<number> {
  const photo = readImageFile(join(builtInImagesDir(), 'astronaut.png'));
  const size = Math.min(job.tile, photo.width, photo.height);
  const tile = rasterToTensor(cropImage(photo, (photo.width - size) >> 1, (photo.height - size) >> 1, size, size));
  const runners: Runner[] = [];
  for (const file of job.files) runners.push(await createRunner(job.runtime, readFileSync(file), { threads: job.threads }));
  const latencies = await tileLatencies(runners, tile, { runs: job.runs });
  for (const r of runners) await r.release();
  process.send!(job.files.map((file, i): Timing => ({ file, latency: latencies[i]! })));
  // ORT-web's worker threads would keep the process alive.
  process.disconnect();
  process.exit(0);
}

function table(
  named: readonly { name: string; bytes: number }[],
  results: BenchReport['results'],
  runtimes: readonly string[],
  threads: readonly number[],
): string {
  const cols = runtimes.flatMap((rt) => threads.map((t) => [rt, t] as const));
  const header = ['variant', 'size', ...cols.map(([rt, t]) => `${rt}×${t} ms`)];
  const rows = named.map((n, i) => [
    n.name,
    i === 0 ? formatBytes(n.bytes) : `${formatBytes(n.bytes)} (${Math.round((n.bytes / named[0]!.bytes) * 100)}%)`,
    ...cols.map(([rt, t]) => {
      const r = results.find((x) => x.variant === n.name && x.runtime === rt && x.threads === t)!;
      return i === 0 ? r.medianMs.toFixed(1) : `${r.medianMs.toFixed(1)} (${r.speedup.toFixed(2)}×)`;
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
