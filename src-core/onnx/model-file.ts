// Node-only: read a model file and the external data files its tensors point to.
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { decodeModel, OnnxFormatError } from './model.ts';
import type { GraphProto, ModelProto, TensorProto } from './types.ts';

export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

/** Read `path` as an ONNX model; tensors stored in external files are loaded into raw_data. */
export function readModelFile(path: string): ModelProto {
  let bytes: Uint8Array;
  try {
    if (statSync(path).isDirectory()) throw new ModelFileError(`${path} is a directory; pass a .onnx file`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    throw new ModelFileError(`cannot read model ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const model = decodeModel(bytes, path);
  if (model.graph) loadExternalData(model.graph, dirname(path), path);
  return model;
}

function loadExternalData(graph: GraphProto, baseDir: string, modelPath: string): void {
  const files = new Map<string, Uint8Array>();
  const tensors: TensorProto[] = [...(graph.initializer ?? [])];
  for (const n of graph.node ?? []) for (const a of n.attribute ?? []) if (a.t) tensors.push(a.t);
  for (const t of tensors) {
    if (t.dataLocation !== 1) continue;
    const info = Object.fromEntries((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = info['location'];
    if (!location) throw new OnnxFormatError(`${modelPath}: tensor ${t.name} is external but names no location`);
    // The spec forbids paths that leave the model's directory; honour that rather than read arbitrary files.
    const rel = normalize(location);
    if (isAbsolute(rel) || rel.startsWith('..' + sep) || rel === '..') {
      throw new OnnxFormatError(`${modelPath}: tensor ${t.name} points outside the model's folder (${location})`);
    }
    const file = join(baseDir, rel);
    let data = files.get(file);
    if (!data) {
      try {
        data = readFileSync(file);
      } catch {
        throw new ModelFileError(`${modelPath}: external data file ${location} for tensor ${t.name} is missing; keep it next to the model`);
      }
      files.set(file, data);
    }
    const offset = Number(info['offset'] ?? 0);
    const length = info['length'] !== undefined ? Number(info['length']) : data.length - offset;
    if (offset + length > data.length) {
      throw new OnnxFormatError(`${modelPath}: tensor ${t.name} reads past the end of ${location}`);
    }
    t.rawData = data.slice(offset, offset + length);
    t.dataLocation = 0;
    t.externalData = [];
  }
  for (const n of graph.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.g) loadExternalData(a.g, baseDir, modelPath);
      for (const g of a.graphs ?? []) loadExternalData(g, baseDir, modelPath);
    }
  }
}
