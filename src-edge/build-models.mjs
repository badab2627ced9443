// Regenerates the embedded default models (`npm run build:edge-models`): for each FP32 model in models/,
// a static INT8 file (what CPU hosts serve) and an FP16 file (what GPU hosts serve), both made by the srq
// CLI, plus src-edge/models/manifest.json with each file's size, SHA-256 and the FP32 graph's
// receptive-field radius (the tile overlap), and for the INT8 files their measured memory per window pixel on
// onnxruntime-web (`memory`) and onnxruntime-node (`nativeMemory`). The outputs are committed so that every runtime,
// Workers included, serves them with zero configuration and no build step. Needs `npm run build` first.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeModel } from '../build/src-core/onnx/model.js';
import { measureNativeMemory } from '../build/src-core/runtime/native-memory.node.js';
import { servedForm } from '../build/src-core/runtime/served-form.node.js';
import { receptiveFieldRadius } from '../build/src-core/tiling/receptive-field.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'src-edge', 'models');
// The first model is the default one.
const order = ['esrgan-slim-x4', 'esrgan-slim-x2', 'esrgan-slim-x3', 'esrgan-slim-x8', 'esrgan-medium-x4', 'realesr-x4fast'];
const source = JSON.parse(readFileSync(join(root, 'models', 'manifest.json'), 'utf8'));

const entries = [];
for (const name of order) {
  const model = source.models.find((m) => m.name === name);
  if (!model) throw new Error(`models/manifest.json has no ${name}`);
  const fp32 = join(root, 'models', model.file);
  const overlap = receptiveFieldRadius(decodeModel(readFileSync(fp32), fp32));
  for (const [variant, host, mode] of [['int8', 'cpu', 'int8-static'], ['fp16', 'gpu', 'fp16']]) {
    const file = `${name}.${variant}.onnx`;
    console.log(`${file}…`);
    execFileSync(process.execPath, [join(root, 'bin', 'srq.js'), 'quantize', fp32, '--mode', mode, '-o', join(outDir, file)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    let bytes = readFileSync(join(outDir, file));
    // CPU hosts serve the INT8 file on wasm: its memory per window pixel sizes the edge's windows, and row strips
    // lower it where they can (the job does the same before it publishes).
    let memory;
    let nativeMemory;
    if (host === 'cpu') {
      const served = await servedForm(bytes);
      if (served.refused) throw new Error(`${file}: ${served.refused}`);
      if (served.rowStrips.length) {
        bytes = served.bytes;
        writeFileSync(join(outDir, file), bytes);
        console.log(`  row strips ${served.rowStrips.map((c) => `${c.node}${c.concat ? '+Concat' : ''}×${c.strips}`).join(', ')}: ${served.before.bytesPerPixel} → ${served.memory.bytesPerPixel} B per window px`);
      }
      memory = served.memory;
      nativeMemory = await measureNativeMemory(bytes); // the Node and Deno entries' windows
    }
    entries.push({
      name,
      scale: model.scale,
      overlap,
      variant,
      host,
      file,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
      ...(memory ? { memory, nativeMemory } : {}),
      source: `models/${model.file} (sha256 ${model.sha256})`,
      license: model.license,
    });
  }
}
writeFileSync(join(outDir, 'manifest.json'), JSON.stringify({ version: 1, models: entries }, null, 2) + '\n');
console.log(`wrote ${entries.length} files and src-edge/models/manifest.json`);
