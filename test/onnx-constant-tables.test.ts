// Large float constants of few distinct rows are stored as a table and a uint8 index (src-core/onnx/constant-tables.ts).
// SwinIR-lite ×2 (PyTorch export) carries each attention block's relative position bias gathered: a 4096 × 2 float
// constant of 225 distinct rows, 64 KB of its 298 KB file, float in every variant. Measured: its static INT8 file
// 206043 → 152803 bytes (69% → 51% of the exported file), FP16 185108 → 162836, outputs byte-equal on
// onnxruntime-node and -web.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readImages } from '../src-core/image/image-files.node.ts';
import { packConstantTables } from '../src-core/onnx/constant-tables.ts';
import { decodeModel, encodeModel } from '../src-core/onnx/model.ts';
import { ModelProtoType } from '../src-core/onnx/schema.ts';
import { DataType, makeTensor, tensorDims, tensorToArray } from '../src-core/onnx/tensor.ts';
import type { GraphProto, ModelProto } from '../src-core/onnx/types.ts';
import { cutCalibrationTiles } from '../src-core/quantize/calibration-tiles.ts';
import { quantizeStatic } from '../src-core/quantize/static.ts';
import { createNodeRunner } from '../src-core/runtime/ort-node.ts';

const file = join(import.meta.dirname, 'fixtures', 'corpus', 'swinir-lite-x2.onnx');
const TABLES = ['onnx::Reshape_779', 'onnx::Reshape_817'];

async function run(bytes: Uint8Array, level: 'all' | 'disabled'): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: level, intraOpNumThreads: 1 });
  const x = new Float32Array(3 * 40 * 40).map((_, i) => ((i * 7919) % 256) / 255);
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [1, 3, 40, 40]) });
  return out[session.outputNames[0]!]!.data as Float32Array;
}

/** The graph as protobuf would write it with no storage forms applied. */
function plainBytes(model: ModelProto): Uint8Array {
  return ModelProtoType.encode(ModelProtoType.fromObject(model)).finish();
}

describe('constant tables', () => {
  it('store SwinIR-lite’s relative position biases as 225-row tables, read back exactly, and run to the same output', async () => {
    const original = readFileSync(file);
    const model = decodeModel(original);
    const packed = encodeModel(model);
    const stored = ModelProtoType.decode(packed) as unknown as ModelProto;
    const gathers = stored.graph!.node!.filter((n) => n.opType === 'Gather' && TABLES.includes(n.output![0]!));
    expect(gathers.map((n) => n.output![0]).sort()).toEqual(TABLES);
    for (const name of TABLES) {
      const table = stored.graph!.initializer!.find((t) => t.name === `${name}.table`)!;
      expect(tensorDims(table)).toEqual([225, 2]);
      expect(stored.graph!.initializer!.find((t) => t.name === `${name}.index`)!.dataType).toBe(DataType.UINT8);
    }
    // Each 32 KB constant becomes 1.8 KB of rows and 4 KB of index (plus two nodes).
    expect(original.length - packed.length).toBeGreaterThan(2 * 26_000);
    expect(original.length - packed.length).toBeLessThan(2 * 27_000);

    const back = decodeModel(packed);
    expect(back.graph!.node!.length).toBe(model.graph!.node!.length);
    for (const name of TABLES) {
      const a = model.graph!.initializer!.find((t) => t.name === name)!;
      const b = back.graph!.initializer!.find((t) => t.name === name)!;
      expect(tensorDims(b)).toEqual(tensorDims(a));
      expect(tensorToArray(b)).toEqual(tensorToArray(a));
    }
    expect(back.graph!.initializer!.some((t) => t.name!.endsWith('.table') || t.name!.endsWith('.index'))).toBe(false);

    // onnxruntime folds the tables back at load; unoptimized it runs the two ops. Either way, the same floats.
    const reference = await run(original, 'all');
    expect(await run(packed, 'all')).toEqual(reference);
    expect(await run(packed, 'disabled')).toEqual(await run(original, 'disabled'));
  });

  it('leave alone what would not shrink or must stay a plain initializer', () => {
    const rows = (distinct: number, n: number) => Float32Array.from({ length: n * 2 }, (_, i) => Math.floor(i / 2) % distinct + 0.5 * (i % 2));
    const graph: GraphProto = {
      input: [{ name: 'x' }, { name: 'overridable' }],
      initializer: [
        makeTensor('few', DataType.FLOAT, [4096, 2], rows(200, 4096)),
        makeTensor('many', DataType.FLOAT, [4096, 2], rows(257, 4096)),
        makeTensor('small', DataType.FLOAT, [512, 2], rows(2, 512)),
        makeTensor('overridable', DataType.FLOAT, [4096, 2], rows(2, 4096)),
        makeTensor('scale', DataType.FLOAT, [4096, 2], rows(2, 4096)),
      ],
      node: [{ opType: 'DequantizeLinear', input: ['q', 'scale'], output: ['y'] }],
    };
    const packed = packConstantTables(graph);
    expect(packed.initializer!.map((t) => t.name).sort()).toEqual(['few.index', 'few.table', 'many', 'overridable', 'scale', 'small']);
    expect(packed.node!.map((n) => n.opType)).toEqual(['Cast', 'Gather', 'DequantizeLinear']);
    expect(graph.initializer!.length).toBe(5); // a copy: the graph itself is unchanged
  });

  it('take SwinIR-lite’s static INT8 file to half of the exported FP32 file', async () => {
    const fp32 = decodeModel(readFileSync(file));
    const tiles = cutCalibrationTiles(readImages(['images/astronaut.png', 'images/coffee.png']), { count: 4, tileSize: 32, seed: 1 });
    const { model } = await quantizeStatic(fp32, { tiles, createRunner: (b) => createNodeRunner(b, { threads: 1 }), method: 'minmax', biasCorrection: false, gptq: false });
    const packed = encodeModel(model);
    const ratio = packed.length / readFileSync(file).length;
    // Measured 0.513 with the defaults; stored plain the same model is 0.69. What is left is the graph (90 KB of
    // ops and names against 71 KB in FP32) and the int8 weights (40 KB): this model is small enough for its graph to
    // weigh more than its weights.
    expect(ratio).toBeLessThan(0.53);
    expect(plainBytes(model).length / readFileSync(file).length).toBeGreaterThan(0.67);
  });
});
