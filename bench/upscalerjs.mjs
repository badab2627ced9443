// UpscalerJS 1.0 as a user runs it, for bench/edge.mjs's side-by-side: `upscale()` with TF.js 4.11's wasm backend
// (1 thread: TF.js wasm has no threads in Node) on the same photos, default options (whole image, no patches),
// tensor output (no encode: that favours UpscalerJS). The model files come from the @upscalerjs packages, served
// on loopback because UpscalerJS's browser build loads models by URL.
//
//   node bench/upscalerjs.mjs <package> <scale> <rounds> photo.png ...   → one JSON line: median ms per photo
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { decode } from 'fast-png';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const root = fileURLToPath(new URL('..', import.meta.url));
const [pkg, scale, rounds, ...photos] = process.argv.slice(2);
const modelDir = join(root, 'node_modules', pkg, 'models', `x${scale}`);

// UpscalerJS's ESM builds import directories and extensionless paths, which Node's ESM loader refuses: bundle it (TF.js stays
// external, so it shares this process's TF.js and its wasm backend).
// The bundle goes under node_modules so that its external imports resolve.
const temp = mkdtempSync(join(root, 'node_modules', '.srq-bench-'));
await build({ stdin: { contents: `export { default } from 'upscaler'; export { default as definition } from '${pkg}/${scale}x';`, resolveDir: root }, bundle: true, format: 'esm', platform: 'node', external: ['@tensorflow/*'], outfile: join(temp, 'upscaler.mjs'), logLevel: 'error' });
const { default: Upscaler, definition } = await import(pathToFileURL(join(temp, 'upscaler.mjs')).href);
rmSync(temp, { recursive: true, force: true });

// model.json and its shards, on a loopback port.
const server = createServer((req, res) => {
  try {
    res.end(readFileSync(join(modelDir, new URL(req.url, 'http://x').pathname.slice(1))));
  } catch {
    res.statusCode = 404;
    res.end();
  }
}).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));

setWasmPaths(join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'));
await tf.setBackend('wasm');
const upscaler = new Upscaler({ model: { ...definition, path: `http://127.0.0.1:${server.address().port}/model.json` } });

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const result = {};
for (const photo of photos) {
  const png = decode(readFileSync(photo));
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = png.data[i * png.channels + c];
  const input = tf.tensor3d(rgb, [png.height, png.width, 3], 'int32');
  const times = [];
  for (let r = 0; r <= Number(rounds); r++) {
    const t = performance.now();
    const out = await upscaler.upscale(input, { output: 'tensor' });
    await out.data(); // the pixels, not a lazy handle
    if (r > 0) times.push(performance.now() - t); // the first call compiles shapes: warm-up, as srq's
    out.dispose();
  }
  input.dispose();
  result[photo] = median(times);
}
console.log(JSON.stringify({ backend: tf.getBackend(), threads: 1, ms: result }));
server.close();
process.exit(0);
