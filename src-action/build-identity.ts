// Which build of the Action is running, for the cache keys (job/cache.ts withBuild): the SHA-256 of the running
// code and the ONNX Runtime version. In the Action this module is inside dist/index.js, so import.meta.url is
// dist/index.js itself and any change to the bundled code changes the hash. Run from sources (tests), it is this
// file's hash, which is fine: the cache seam there is a stand-in.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ortWeb from 'onnxruntime-web';
import type { BuildIdentity } from './job/cache.ts';
import { readAssets } from './ort-runtime.ts';

export function buildIdentity(): BuildIdentity {
  const codeSha256 = createHash('sha256').update(readFileSync(fileURLToPath(import.meta.url))).digest('hex');
  // dist/ort/assets.json names the shipped binaries' version; from sources, the installed onnxruntime-web's.
  const onnxruntime = readAssets()?.onnxruntime ?? ortWeb.env.versions.web ?? ortWeb.env.versions.common;
  return { codeSha256, onnxruntime };
}
