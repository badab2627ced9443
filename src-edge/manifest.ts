// Reading the model manifest the edge worker serves from: one entry per model file (a model in one precision).
// The embedded default (src-edge/models/manifest.json, made by build-models.mjs) and the Action's published
// manifest share the shape of src-core/manifest.ts. Fields the edge does not use (metrics…) are ignored.
//
//   { "version": 1, "models": [ { "name": "esrgan-slim-x4", "scale": 4, "overlap": 10, "variant": "int8",
//       "host": "cpu", "file": "esrgan-slim-x4.int8.onnx", "sha256": "…64 hex…", "bytes": 271234 }, … ] }
//
// `overlap` is the receptive-field radius of the FP32 graph (receptiveFieldRadius in src-core/tiling): the
// tile context that makes tiled output equal whole-image output. The manifest carries it so that the edge
// never has to decode ONNX (protobufjs's generated decoders need `new Function`, which Workers forbid).
// `file` is relative to the manifest (a path next to it, or a URL relative to the manifest's URL).

// The types live in src-core/manifest.ts, which `srq run` and the Action write; this file only checks one.
import type { ManifestEntry, ModelHost, ModelManifest, ModelVariant } from '../src-core/manifest.ts';
import type { WasmMemory } from '../src-core/runtime/wasm-memory.ts';
export type { ManifestEntry, ModelHost, ModelVariant };

/** A manifest as the edge reads it: the published one, or the embedded default (first model = default). */
export type EdgeManifest = ModelManifest;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

const VARIANTS: readonly ModelVariant[] = ['int8', 'fp16', 'fp32'];
const HOSTS: readonly ModelHost[] = ['cpu', 'gpu'];

/** Checks parsed JSON against the manifest shape; `source` names it in errors. */
export function parseManifest(json: unknown, source: string): EdgeManifest {
  const fail = (what: string): never => {
    throw new ManifestError(`manifest ${source}: ${what}; fix the manifest (see src-core/manifest.ts for its shape)`);
  };
  if (!isObject(json)) return fail('is not a JSON object');
  if (json.version !== 1) fail(`has version ${JSON.stringify(json.version)}, this worker reads version 1`);
  if (!Array.isArray(json.models) || json.models.length === 0) return fail('has no "models" list');

  const seen = new Set<string>();
  const byName = new Map<string, ManifestEntry>();
  const models = json.models.map((raw: unknown, i: number): ManifestEntry => {
    const at = `models[${i}]`;
    if (!isObject(raw)) return fail(`${at} is not an object`);
    const name = raw.name;
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      return fail(`${at}.name must be letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
    }
    const intField = (key: string, min: number): number => {
      const v = raw[key];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
        fail(`${at} (${name}).${key} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
      }
      return v as number;
    };
    const variant = raw.variant as ModelVariant;
    if (!VARIANTS.includes(variant)) fail(`${at} (${name}).variant must be one of ${VARIANTS.join(', ')}, got ${JSON.stringify(variant)}`);
    const host = raw.host as ModelHost;
    if (!HOSTS.includes(host)) fail(`${at} (${name}).host must be cpu or gpu, got ${JSON.stringify(host)}`);
    const file = raw.file;
    if (typeof file !== 'string' || file === '' || file.startsWith('/') || file.includes(':') || file.split('/').includes('..')) {
      fail(`${at} (${name}).file must be a path relative to the manifest (no leading '/', no ':', no '..'), got ${JSON.stringify(file)}`);
    }
    const sha256 = raw.sha256;
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) fail(`${at} (${name}).sha256 must be 64 lower-case hex digits`);
    const entry: ManifestEntry = {
      name,
      scale: intField('scale', 1),
      ...(raw.border !== undefined && raw.border !== 0 ? { border: intField('border', 0) } : {}),
      ...(raw.wholeImage === true ? { wholeImage: true } : {}),
      overlap: intField('overlap', 0),
      variant,
      host,
      file: file as string,
      sha256: sha256 as string,
      bytes: intField('bytes', 1),
      ...(raw.memory !== undefined ? { memory: wasmMemory(raw.memory, `${at} (${name}).memory`, fail) } : {}),
      ...(raw.nativeMemory !== undefined ? { nativeMemory: wasmMemory(raw.nativeMemory, `${at} (${name}).nativeMemory`, fail) } : {}),
    };
    const key = `${name}/${variant}`;
    if (seen.has(key)) fail(`${at} repeats the ${variant} file of ${name}; list each model variant once`);
    seen.add(key);
    const first = byName.get(name);
    if (first && (first.scale !== entry.scale || first.overlap !== entry.overlap || (first.border ?? 0) !== (entry.border ?? 0))) {
      fail(`${at}: the variants of ${name} disagree on scale, border or overlap`);
    }
    byName.set(name, first ?? entry);
    return entry;
  });
  return { version: 1, models };
}

function wasmMemory(v: unknown, at: string, fail: (what: string) => never): WasmMemory {
  if (!isObject(v) || !isCount(v.baseBytes) || !isCount(v.bytesPerPixel)) {
    return fail(`${at} must be { "baseBytes": integer >= 0, "bytesPerPixel": integer >= 0 } (srq measures it)`);
  }
  return { baseBytes: v.baseBytes as number, bytesPerPixel: v.bytesPerPixel as number };
}

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Model names in manifest order (the first is the default). */
export function modelNames(manifest: EdgeManifest): string[] {
  return [...new Set(manifest.models.map((m) => m.name))];
}
