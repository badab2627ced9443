// ModelProto bytes <-> objects, metadata_props, and opset lookup. Runtime-agnostic (no Node built-ins);
// external data files are resolved by model-file.ts.
import { ModelProtoType, TensorProtoType } from './schema.ts';
import type { ModelProto, TensorProto } from './types.ts';
import { toNumber } from './long.ts';
import { packSparseInitializers, unpackSparseInitializers } from './sparse.ts';
import { packConstantTables, unpackConstantTables } from './constant-tables.ts';

export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError';
}

/**
 * Parse ONNX bytes. Protobuf has no magic number, so random bytes can parse as an "empty" message;
 * a model without a graph is therefore rejected as "not an ONNX model".
 */
export function decodeModel(bytes: Uint8Array, source = 'input'): ModelProto {
  let model: ModelProto;
  try {
    model = ModelProtoType.decode(bytes) as unknown as ModelProto;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new OnnxFormatError(`${source} is not a readable ONNX model (${why}); is the file truncated or of another format?`);
  }
  if (!model.graph || (model.graph.node?.length ?? 0) === 0 || (model.opsetImport?.length ?? 0) === 0) {
    throw new OnnxFormatError(`${source} is not an ONNX model (no graph or no opset); pass a .onnx file`);
  }
  unpackSparseInitializers(model.graph);
  unpackConstantTables(model.graph);
  return model;
}

/**
 * The model's bytes; int8 weights that are mostly zero are stored sparse (sparse.ts), large float constants of few
 * distinct rows as a table and an index (constant-tables.ts), every other tensor as it is. decodeModel reads both back.
 */
export function encodeModel(model: ModelProto): Uint8Array {
  const stored = model.graph ? { ...model, graph: packSparseInitializers(packConstantTables(model.graph)) } : model;
  return ModelProtoType.encode(ModelProtoType.fromObject(stored)).finish();
}

export function getMetadata(model: ModelProto, key: string): string | undefined {
  return model.metadataProps?.find((p) => p.key === key)?.value;
}

export function setMetadata(model: ModelProto, key: string, value: string): void {
  const props = (model.metadataProps ??= []);
  const entry = props.find((p) => p.key === key);
  if (entry) entry.value = value;
  else props.push({ key, value });
}

/** The opset version the model imports for a domain ('' and 'ai.onnx' are the default domain). */
export function opsetVersion(model: ModelProto, domain = ''): number | undefined {
  const norm = (d: string | undefined) => (d === 'ai.onnx' ? '' : (d ?? ''));
  const entry = model.opsetImport?.find((o) => norm(o.domain) === norm(domain));
  return entry ? toNumber(entry.version) : undefined;
}

/** Parse a serialized TensorProto (the .pb files of ONNX test data sets). */
export function decodeTensor(bytes: Uint8Array): TensorProto {
  return TensorProtoType.decode(bytes) as unknown as TensorProto;
}

/** A deep copy (through the wire format, so int64 values stay Long and bytes stay Uint8Array). */
export function cloneModel(model: ModelProto): ModelProto {
  // Plain bytes, not encodeModel's storage forms: a copy in memory has no use for them.
  const copy = ModelProtoType.decode(ModelProtoType.encode(ModelProtoType.fromObject(model)).finish()) as unknown as ModelProto;
  if (copy.graph) unpackSparseInitializers(copy.graph);
  return copy;
}
