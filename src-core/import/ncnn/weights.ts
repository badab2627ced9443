// ncnn's .bin: every layer's weights, back to back in layer order, no header (src/modelbin.cpp
// ModelBinFromDataReader::load). A layer asks for `count` values of one of two kinds:
//   'tagged' (ncnn type 0): a 4-byte little-endian tag, then the data. 0x01306B47: float16 (padded to 4
//     bytes); 0x000D4B38: int8; 0x0002C056: float32; 0 (all four bytes zero): float32; any other tag: a
//     256-entry float32 table followed by one uint8 index per value (padded to 4 bytes).
//   'raw' (ncnn type 1): float32, no tag (biases, PReLU slopes, int8 scales).
import { float16BitsToNumber } from '../../onnx/tensor.ts';
import { NcnnWeightsError } from './errors.ts';

export const TAG_FLOAT16 = 0x01306b47;
export const TAG_INT8 = 0x000d4b38;
export const TAG_FLOAT32 = 0x0002c056;

export type WeightStorage = 'float32' | 'float16' | 'int8' | 'table';

export interface LoadedWeights {
  values: Float32Array;
  storage: WeightStorage;
}

const align4 = (n: number) => (n + 3) & ~3;

/** float16 bits -> value, for all 65536 patterns (built on first use; decoding is then one lookup). */
let halfTable: Float32Array | undefined;
function halfToFloat(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = float16BitsToNumber(h);
  }
  return halfTable;
}

export class ModelBin {
  private offset = 0;
  private readonly view: DataView;
  /** How many values were read in each storage, for the import summary. */
  readonly storageCounts: Record<WeightStorage, number> = { float32: 0, float16: 0, int8: 0, table: 0 };

  constructor(
    private readonly bytes: Uint8Array,
    private readonly source = 'the .bin file',
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.offset;
  }

  private take(n: number, what: string, layer: string): number {
    if (this.offset + n > this.bytes.byteLength) {
      throw new NcnnWeightsError(
        `${this.source} ends at byte ${this.bytes.byteLength} while reading ${what} of layer ${layer} (needs bytes ${this.offset}..${this.offset + n}); ` +
          'the .bin is truncated or belongs to another .param',
      );
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  /** float32 values with no tag (ncnn's mb.load(w, 1)). */
  raw(count: number, what: string, layer: string): Float32Array {
    const at = this.take(count * 4, what, layer);
    this.storageCounts.float32 += count;
    return this.float32At(at, count);
  }

  /** The host is little-endian (checked in onnx/tensor.ts), so aligned data can be viewed directly. */
  private aligned(at: number, size: number): boolean {
    return (this.bytes.byteOffset + at) % size === 0;
  }

  private float32At(at: number, count: number): Float32Array {
    if (this.aligned(at, 4)) return new Float32Array(this.bytes.buffer, this.bytes.byteOffset + at, count).slice();
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.view.getFloat32(at + 4 * i, true);
    return out;
  }

  /**
   * Tagged values (ncnn's mb.load(w, 0)), as float32. int8 weights come back as their integer values with
   * storage 'int8': they only mean something with the layer's scales, so the caller decides.
   */
  tagged(count: number, what: string, layer: string): LoadedWeights {
    const tagAt = this.take(4, `the storage tag of ${what}`, layer);
    const tag = this.view.getUint32(tagAt, true);
    const out = new Float32Array(count);
    if (tag === TAG_FLOAT16) {
      const at = this.take(align4(count * 2), `${what} (float16)`, layer);
      const table = halfToFloat();
      const bits = this.aligned(at, 2) ? new Uint16Array(this.bytes.buffer, this.bytes.byteOffset + at, count) : undefined;
      if (bits) for (let i = 0; i < count; i++) out[i] = table[bits[i]!]!;
      else for (let i = 0; i < count; i++) out[i] = table[this.view.getUint16(at + 2 * i, true)]!;
      this.storageCounts.float16 += count;
      return { values: out, storage: 'float16' };
    }
    if (tag === TAG_INT8) {
      const at = this.take(align4(count), `${what} (int8)`, layer);
      for (let i = 0; i < count; i++) out[i] = this.view.getInt8(at + i);
      this.storageCounts.int8 += count;
      return { values: out, storage: 'int8' };
    }
    if (tag === TAG_FLOAT32 || tag === 0) {
      const at = this.take(count * 4, `${what} (float32)`, layer);
      this.storageCounts.float32 += count;
      return { values: this.float32At(at, count), storage: 'float32' };
    }
    // Any other non-zero tag: ncnn reads a quantization table (caffe2ncnn's old "-q" output).
    const tableAt = this.take(256 * 4, `${what} (quantization table)`, layer);
    const table = new Float32Array(256);
    for (let i = 0; i < 256; i++) table[i] = this.view.getFloat32(tableAt + 4 * i, true);
    const at = this.take(align4(count), `${what} (table indices)`, layer);
    for (let i = 0; i < count; i++) out[i] = table[this.bytes[at + i]!]!;
    this.storageCounts.table += count;
    return { values: out, storage: 'table' };
  }
}
