// Which ONNX Runtime the Action computes with, and getting its binaries onto the runner. Native addons cannot be
// bundled, so dist/ort/ carries onnxruntime-node's linux-x64 binding and library and onnxruntime-web's wasm,
// brotli-compressed (scripts/bundle-action.mjs; assets.json lists them). They are unpacked once into RUNNER_TEMP:
// onnxruntime-node where this platform's binary is shipped and loads, onnxruntime-web (wasm) elsewhere.
// Run from sources (tests, no dist/ort/ beside this module) ORT comes from node_modules as usual.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliDecompressSync } from 'node:zlib';
import * as ortWeb from 'onnxruntime-web';
import { useOrtBinding } from '../src-core/runtime/ort-binding.node.ts';
import type { JobLog } from './job/log.ts';
import { JobInputError } from './job/options.ts';
import type { RuntimeChoice } from './inputs.ts';

/** dist/ort/assets.json, written by scripts/bundle-action.mjs. */
export interface OrtAssets {
  onnxruntime: string;
  /** Each file's name (`<group>/<file>`; group = linux-x64 or wasm) and its uncompressed hash and size. */
  files: { name: string; sha256: string; bytes: number }[];
}

export interface ChosenRuntime {
  runtime: 'node' | 'web';
  /** Web runs with this many wasm threads (the first web session fixes it for the process). */
  threads?: number;
}

export function platformKey(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}-${arch}`;
}

/** The decision alone: native where its binary is shipped (and loads), wasm otherwise. */
export function chooseRuntime(choice: RuntimeChoice, nativeAvailable: boolean, platform = platformKey()): 'node' | 'web' {
  if (choice === 'web') return 'web';
  if (nativeAvailable) return 'node';
  if (choice === 'node') throw new JobInputError(`input runtime is node, but srq ships onnxruntime-node's native binary for linux-x64 only and this runner is ${platform}; use runtime: auto (wasm here) or web`);
  return 'web';
}

function assetsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'ort');
}

export function readAssets(dir = assetsDir()): OrtAssets | undefined {
  const file = join(dir, 'assets.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as OrtAssets) : undefined;
}

/** Unpack one group of files (verified by hash) into `<root>/<group>/`, atomically; reused when already there. */
export function unpackGroup(assets: OrtAssets, from: string, root: string, group: string): string {
  const files = assets.files.filter((f) => f.name.startsWith(`${group}/`));
  const target = join(root, group);
  const present = files.every((f) => existsSync(join(root, f.name)) && statSync(join(root, f.name)).size === f.bytes);
  if (present) return target;
  const staging = `${target}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const f of files) {
    const data = brotliDecompressSync(readFileSync(join(from, `${f.name}.br`)));
    if (createHash('sha256').update(data).digest('hex') !== f.sha256) throw new Error(`dist/ort/${f.name}.br is corrupt; rebuild dist with npm run bundle`);
    writeFileSync(join(staging, f.name.slice(group.length + 1)), data);
  }
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
  return target;
}

/**
 * Pick the runtime and make it loadable. `tempDir` is RUNNER_TEMP: the unpacked files live there for the job.
 */
export function prepareRuntime(choice: RuntimeChoice, tempDir: string, log: JobLog): ChosenRuntime {
  const webThreads = Math.min(4, availableParallelism());
  const assets = readAssets();
  if (!assets) {
    const runtime = choice === 'web' ? 'web' : 'node';
    return runtime === 'web' ? { runtime, threads: webThreads } : { runtime };
  }
  const from = assetsDir();
  const version = createHash('sha256').update(JSON.stringify(assets)).digest('hex').slice(0, 12);
  const root = join(tempDir, `srq-onnxruntime-${assets.onnxruntime}-${version}`);
  const platform = platformKey();
  const shipped = assets.files.some((f) => f.name.startsWith(`${platform}/`));
  let native = false;
  if (choice !== 'web' && shipped) {
    const started = performance.now();
    const dir = unpackGroup(assets, from, root, platform);
    const binding = join(dir, 'onnxruntime_binding.node');
    try {
      createRequire(import.meta.url)(binding);
      // The bundle's patched binding.js loads this addon, here and in the job's child processes.
      useOrtBinding(binding);
      native = true;
      log.info(`onnxruntime-node ${assets.onnxruntime} (${platform}) ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } catch (e) {
      log.warning(`onnxruntime-node's binary does not load on this runner (${(e as Error).message.split('\n')[0]}): using onnxruntime-web (wasm)`);
    }
  } else if (choice !== 'web') {
    log.info(`srq ships no onnxruntime-node binary for ${platform}: using onnxruntime-web (wasm)`);
  }
  const runtime = chooseRuntime(choice, native, platform);
  // The bundle cannot find ORT's wasm beside itself: point ORT at the unpacked glue and binary. Unpacked on native
  // runs too: the INT8 files' wasm memory (what the edge sizes its windows from) is measured on onnxruntime-web.
  const wasm = unpackGroup(assets, from, root, 'wasm');
  (ortWeb.env.wasm as { wasmPaths?: string }).wasmPaths = pathToFileURL(`${wasm}/`).href;
  if (runtime === 'node') return { runtime };
  log.info(`onnxruntime-web ${assets.onnxruntime} (wasm, ${webThreads} threads) ready`);
  return { runtime, threads: webThreads };
}
