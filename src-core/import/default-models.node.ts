// Node-only: imports one of srq's shipped ncnn models from node_modules exactly as scripts/import-default-models.mjs
// writes it to models/, so that a test can check the committed file is what the importer makes today.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setMetadata } from '../onnx/model.ts';
import type { ModelProto } from '../onnx/types.ts';
import type { NcnnModelSpec } from './default-models.ts';
import { importNcnnFiles } from './ncnn/files.node.ts';

export async function importNcnnDefault(spec: NcnnModelSpec, nodeModules: string): Promise<{ model: ModelProto; source: string }> {
  const pkgDir = path.join(nodeModules, spec.package);
  const version = (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  const source = `${spec.package}@${version}/${spec.param}`;
  const { model } = await importNcnnFiles(path.join(pkgDir, spec.param), { name: spec.name });
  // The same provenance keys as the TF.js defaults; srq.scale is a cache of what srq measures.
  setMetadata(model, 'srq.name', spec.name);
  setMetadata(model, 'srq.source', source);
  setMetadata(model, 'srq.scale', String(spec.scale));
  return { model, source };
}
