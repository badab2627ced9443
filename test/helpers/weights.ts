// Initializers for the small graphs the quantizer tests build: seeded random weights and explicit constants.
import { DataType, makeTensor } from '../../src-core/onnx/tensor.ts';
import type { TensorProto } from '../../src-core/onnx/types.ts';
import { seededRandom } from '../../src-core/quantize/calibration-tiles.ts';

export class Weights {
  readonly list: TensorProto[] = [];
  private readonly rand = seededRandom(42);

  /** A tensor of seeded uniform values in [-scale, scale). */
  add(name: string, dims: number[], scale = 0.3): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.list.push(makeTensor(name, DataType.FLOAT, dims, Float32Array.from({ length: n }, () => (this.rand() * 2 - 1) * scale)));
    return name;
  }

  /** A tensor of the given values (float32, int64, int32 or int8). */
  constant(name: string, dims: number[], values: ArrayLike<number>, type: number = DataType.FLOAT): string {
    const data = type === DataType.INT64 ? BigInt64Array.from(Array.from(values, BigInt))
      : type === DataType.INT8 ? Int8Array.from(values) : type === DataType.INT32 ? Int32Array.from(values) : Float32Array.from(values);
    this.list.push(makeTensor(name, type, dims, data));
    return name;
  }
}
