// npm run bundle: the GitHub Action's committed dist/, which runs from a clean checkout with no install.
//  - dist/wasm-memory-task.node.js, dist/native-memory-task.node.js: the worker thread and the child process that
//    measure an INT8 file's wasm and onnxruntime-node memory (for the edge's windows).
//  - dist/index.js: src-action/index.ts and everything it imports, one minified ESM file (esbuild), with a createRequire
//    banner for the CommonJS dependencies. onnxruntime-node's binding.js is patched to load the native addon from
//    where the Action unpacks it (src-action/ort-runtime.ts), since a .node file cannot be bundled.
//  - dist/ort/: onnxruntime-node's linux-x64 addon + library and onnxruntime-web's wasm runtime, brotli-compressed
//    (quality 11: 15 MB instead of 60 MB), with assets.json (each file's uncompressed SHA-256 and size).
//    Compressing takes ~2.5 min, so a .br already in the output folder (or in --seed) is kept when it decompresses
//    to the current node_modules file; only a changed ORT is compressed again.
// Usage: node scripts/bundle-action.mjs [--out <dir>] [--seed <dir with earlier ort/*.br>] [--no-compress]
//   --no-compress: fail instead of compressing (the dist check: a stale .br is an error, not 2.5 minutes of work).
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { out: { type: 'string' }, seed: { type: 'string' }, 'no-compress': { type: 'boolean' } } });
const out = resolve(values.out ?? join(root, 'dist'));
const seed = values.seed ? resolve(values.seed) : undefined;

// What the Action unpacks: `<group>/<file>` (group = platform-arch, or wasm) from its node_modules source.
const ortNode = 'node_modules/onnxruntime-node';
const ortWeb = 'node_modules/onnxruntime-web';
const ASSETS = [
  ['linux-x64/onnxruntime_binding.node', `${ortNode}/bin/napi-v6/linux/x64/onnxruntime_binding.node`],
  ['linux-x64/libonnxruntime.so.1', `${ortNode}/bin/napi-v6/linux/x64/libonnxruntime.so.1`],
  ['wasm/ort-wasm-simd-threaded.mjs', `${ortWeb}/dist/ort-wasm-simd-threaded.mjs`],
  ['wasm/ort-wasm-simd-threaded.wasm', `${ortWeb}/dist/ort-wasm-simd-threaded.wasm`],
];

const BINDING_REQUIRE = 'require(`../bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`)';

const patchOrtBinding = {
  name: 'srq-ort-binding',
  setup(build) {
    build.onLoad({ filter: /onnxruntime-node[\\/]dist[\\/]binding\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(BINDING_REQUIRE)) throw new Error(`${args.path} no longer loads its addon as expected; update scripts/bundle-action.mjs`);
      // The global src-core/runtime/ort-binding.node.ts sets.
      return { contents: text.replace(BINDING_REQUIRE, 'require(globalThis.__srqOrtNodeBinding)'), loader: 'js' };
    });
  },
};

// The memory measures run each size in a fresh worker thread (src-core/runtime/wasm-memory.node.ts) or child process
// (native-memory.node.ts), whose script they find beside their own module: in the bundle, beside dist/index.js.
const ENTRIES = [
  ['src-action/index.ts', 'index.js'],
  ['src-core/runtime/wasm-memory-task.node.ts', 'wasm-memory-task.node.js'],
  ['src-core/runtime/native-memory-task.node.ts', 'native-memory-task.node.js'],
];

async function bundle() {
  for (const [entry, file] of ENTRIES) await bundleOne(entry, file);
}

async function bundleOne(entry, file) {
  const started = performance.now();
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile: join(out, file),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Minified: 3.1 MB instead of 6.5 MB (mostly the toolkit's HTTP clients). Names kept: the toolkit compares
    // error.name (e.g. ValidationError, ReserveCacheError) to decide what to rethrow.
    minify: true,
    keepNames: true,
    legalComments: 'eof',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __srqCreateRequire } from 'node:module';\nconst require = __srqCreateRequire(import.meta.url);" },
    plugins: [patchOrtBinding],
  });
  console.log(`dist/${file} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** A .br that decompresses to exactly `data`, or undefined. */
function reusable(path, hash) {
  if (!existsSync(path)) return undefined;
  try {
    return sha256(brotliDecompressSync(readFileSync(path))) === hash ? path : undefined;
  } catch {
    return undefined;
  }
}

function syncAssets() {
  const files = [];
  for (const [name, source] of ASSETS) {
    const data = readFileSync(join(root, source));
    const hash = sha256(data);
    const target = join(out, 'ort', `${name}.br`);
    mkdirSync(dirname(target), { recursive: true });
    const existing = reusable(target, hash) ?? (seed ? reusable(join(seed, 'ort', `${name}.br`), hash) : undefined);
    if (existing && existing !== target) copyFileSync(existing, target);
    if (!existing && values['no-compress']) {
      console.error(`dist/ort/${name}.br does not match ${source}; run npm run bundle`);
      process.exit(1);
    }
    if (!existing) {
      const started = performance.now();
      const params = { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: data.length };
      writeFileSync(target, brotliCompressSync(data, { params }));
      console.log(`ort/${name}.br compressed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
    files.push({ name, sha256: hash, bytes: data.length });
  }
  const version = JSON.parse(readFileSync(join(root, ortNode, 'package.json'), 'utf8')).version;
  const webVersion = JSON.parse(readFileSync(join(root, ortWeb, 'package.json'), 'utf8')).version;
  if (version !== webVersion) throw new Error(`onnxruntime-node ${version} and onnxruntime-web ${webVersion} differ; install the same version of both`);
  writeFileSync(join(out, 'ort', 'assets.json'), JSON.stringify({ onnxruntime: version, files }, null, 2) + '\n');
}

mkdirSync(out, { recursive: true });
await bundle();
syncAssets();
