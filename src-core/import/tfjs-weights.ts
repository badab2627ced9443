// Decodes the weight bytes of a TF.js model: every shard of every weightsManifest group concatenated in
// manifest order, each entry packed back to back (float32, or uint8/uint16/float16 when quantized).
import { float16BitsToNumber } from '../onnx/tensor.ts';
import { KerasWeightsError } from './errors.ts';
import type { WeightsManifestEntry, WeightsManifestGroup } from './keras-topology.ts';

export interface KerasWeight {
  name: string;
  /** Keras layout, e.g. a Conv2D kernel is [kh, kw, in, out]. */
  shape: number[];
  values: Float32Array;
}

/** Bytes per stored value, for the dtypes the importer reads (Keras layer weights are float). */
const storedBytes: Record<string, number> = { float32: 4, uint8: 1, uint16: 2, float16: 2 };

/** All weights by name. `data` holds the shards of all groups, concatenated in manifest order. */
export function decodeWeights(manifest: readonly WeightsManifestGroup[], data: ArrayBuffer): Map<string, KerasWeight> {
  const entries = manifest.flatMap((g) => g.weights ?? []);
  const out = new Map<string, KerasWeight>();
  let offset = 0;
  for (const entry of entries) {
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const stored = entry.quantization?.dtype ?? entry.dtype;
    const width = storedBytes[stored];
    if (width === undefined || (stored === 'float32') !== (entry.quantization === undefined)) {
      throw new KerasWeightsError(
        `weight ${entry.name} is stored as ${stored}; srq import reads float32 weights and uint8/uint16/float16 quantized ones`,
      );
    }
    const size = count * width;
    if (offset + size > data.byteLength) {
      throw new KerasWeightsError(
        `the weight data ends at byte ${data.byteLength} but ${entry.name} needs bytes ${offset}..${offset + size}; ` +
          'a .bin shard is missing or truncated',
      );
    }
    out.set(entry.name, { name: entry.name, shape: [...entry.shape], values: decodeOne(entry, data, offset, count) });
    offset += size;
  }
  if (offset !== data.byteLength) {
    throw new KerasWeightsError(
      `the weight data has ${data.byteLength} bytes but weightsManifest describes ${offset}; the shards do not belong to this model.json`,
    );
  }
  return out;
}

function decodeOne(entry: WeightsManifestEntry, data: ArrayBuffer, offset: number, count: number): Float32Array {
  const q = entry.quantization;
  // slice() copies, so the typed arrays below are aligned whatever the offset.
  const bytes = data.slice(offset, offset + count * storedBytes[q?.dtype ?? entry.dtype]!);
  if (!q) return new Float32Array(bytes);
  if (q.dtype === 'float16') return Float32Array.from(new Uint16Array(bytes), float16BitsToNumber);
  if (q.dtype === 'uint8' || q.dtype === 'uint16') {
    if (typeof q.scale !== 'number' || typeof q.min !== 'number') {
      throw new KerasWeightsError(`weight ${entry.name} is ${q.dtype}-quantized but has no scale/min; the manifest is malformed`);
    }
    const raw = q.dtype === 'uint8' ? new Uint8Array(bytes) : new Uint16Array(bytes);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = raw[i]! * q.scale + q.min;
    return values;
  }
  throw new KerasWeightsError(`weight ${entry.name} uses quantization ${q.dtype}; srq import reads uint8, uint16 and float16`);
}
