// Row strips (src-core/quantize/row-strips.ts): an int8 conv computed in horizontal strips gives the same bytes on
// onnxruntime-node and -web at any input height, ORT still fuses every strip into an int8 conv, and the edge's
// served form (served-form.node.ts) keeps the split only where it lowers the wasm memory a window pixel.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, getMetadata } from '../src-core/onnx/model.ts';
import { int8Coverage } from '../src-core/quantize/coverage.node.ts';
import { denseConcatPlans, rowStripCandidates, splitConvRows } from '../src-core/quantize/row-strips.ts';
import { createRunner } from '../src-core/runtime/create-runner.node.ts';
import { optimizedGraph } from '../src-core/runtime/optimized-graph.node.ts';
import { servedForm } from '../src-core/runtime/served-form.node.ts';
import { srq } from './helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'srq-row-strips-'));
// The worker script is the compiled one (npm test builds first): a worker thread cannot load .ts.
const task = new URL('../build/src-core/runtime/wasm-memory-task.node.js', import.meta.url);
const fast = ['--calib-tiles', '2', '--tile', '32', '--calib', 'images/chelsea.png'];

function quantized(model: string): Uint8Array {
  const out = join(work, `${model.replace(/\W/g, '_')}.onnx`);
  const r = srq(['quantize', model, '-o', out, ...fast]);
  if (r.code !== 0) throw new Error(r.stderr);
  return readFileSync(out);
}

async function outputs(runtime: 'node' | 'web', bytes: Uint8Array, sizes: readonly [number, number][]) {
  const runner = await createRunner(runtime, bytes, { threads: 1 });
  try {
    const result = [];
    for (const [h, w] of sizes) {
      const input = new Float32Array(3 * h * w).map((_, i) => (Math.sin(i * 0.37) + 1) / 2);
      result.push(await runner.run(input, [1, 3, h, w]));
    }
    return result;
  } finally {
    await runner.release();
  }
}

describe('row strips', () => {
  const slim = quantized('models/esrgan-slim-x4.onnx');

  it("picks the convs whose unfold scratch passes 1 KB a pixel: slim's 5×5 upsampling conv, none of x4fast's", () => {
    // UPN1: 5·5·64 bytes of im2col + 4·64 of int32 result = 1856, in strips of ≤ 512.
    expect(rowStripCandidates(decodeModel(slim))).toEqual([{ node: 'UPN1', scratch: 1856, strips: 4 }]);
    // Real-ESRGAN x4fast: 3×3 over 64 channels = 832 bytes a pixel.
    expect(rowStripCandidates(decodeModel(readFileSync('src-edge/models/realesr-x4fast.int8.onnx')))).toEqual([]);
    // A served file is not split again (its strips' convs keep their scratch an output pixel).
    expect(rowStripCandidates(decodeModel(readFileSync('src-edge/models/esrgan-slim-x4.int8.onnx')))).toEqual([]);
  });

  it('counts a conv past an upsampling at the pixels it computes for each input pixel', () => {
    // slim ×8's sub-pixel conv runs after a ×2 DepthToSpace: (9·48 + 4·48) · 2² = 2496 bytes an input pixel, where
    // its own 624 would not pass 1 KB.
    expect(rowStripCandidates(decodeModel(quantized('models/esrgan-slim-x8.onnx')))).toEqual([
      { node: 'SR_subpixel', scratch: 2496, strips: 5 },
      { node: 'UPN1', scratch: 1856, strips: 4 },
    ]);
  });

  it('gives byte-equal outputs on node and web at every height, 1 row included, and ORT fuses every strip', async () => {
    const model = decodeModel(slim);
    const split = encodeModel(splitConvRows(model, rowStripCandidates(model)));
    expect(getMetadata(decodeModel(split), 'srq.row_strips')).toBe('UPN1:4');
    // Heights below the strip count give some strips only the extra rows the final Slice drops.
    const sizes: [number, number][] = [[1, 5], [2, 3], [3, 7], [5, 9], [17, 13], [64, 40]];
    for (const runtime of ['node', 'web'] as const) {
      const [a, b] = [await outputs(runtime, slim, sizes), await outputs(runtime, split, sizes)];
      for (const [i, [h, w]] of sizes.entries()) {
        expect(b[i]!.dims, `${runtime} ${h}×${w}`).toEqual([1, 3, 4 * h, 4 * w]);
        expect(b[i]!.data, `${runtime} ${h}×${w}`).toEqual(a[i]!.data);
      }
    }
    const optimized = await optimizedGraph(split);
    const strips = optimized.graph!.node!.filter((n) => n.opType === 'QLinearConv' && /^UPN1\.rows\.\d/.test(n.name ?? ''));
    expect(strips).toHaveLength(4);
    // Coverage counts the strips as the one conv they compute.
    const [coverage, unsplit] = [await int8Coverage(split), await int8Coverage(slim)];
    expect(coverage.int8MacShare).toBe(1);
    expect(coverage.floatLayers).toEqual([]);
    expect([coverage.int8Layers, coverage.layers]).toEqual([unsplit.layers, unsplit.layers]);
  });

  it('refuses a conv that is not a static-int8 conv, naming it', () => {
    const model = decodeModel(slim);
    expect(() => splitConvRows(model, [{ node: 'UPN1_Relu', scratch: 0, strips: 2 }])).toThrow(/row strips: UPN1_Relu is not a static-int8 conv with stride 1/);
  });

  it("serves slim and waifu2x in strips, 33–48% less wasm memory a window pixel, and x4fast as it is", async () => {
    const served = await servedForm(slim, { task });
    expect(served.rowStrips.map((c) => c.node)).toEqual(['UPN1']);
    // Measured: 2004 → 1044 B a window px (each run's peak).
    expect(served.memory.bytesPerPixel / served.before!.bytesPerPixel).toBeLessThan(0.55);
    expect(getMetadata(decodeModel(served.bytes), 'srq.row_strips')).toBe('UPN1:4');
    // waifu2x upconv_7 (PyTorch export): its two largest, the 256-channel conv and the sub-pixel form of its
    // ConvTranspose; measured 2754 → 1838 B a window px.
    const waifu2x = await servedForm(quantized('test/fixtures/corpus/waifu2x-upconv7-x2.onnx'), { task });
    expect(waifu2x.rowStrips.map((c) => [c.node, c.strips])).toEqual([['/net/net.12/ConvTranspose_subpixel', 5], ['/net/net.10/Conv', 5]]);
    expect(waifu2x.memory.bytesPerPixel / waifu2x.before!.bytesPerPixel).toBeLessThan(0.7);
    const x4fast = readFileSync('src-edge/models/realesr-x4fast.int8.onnx');
    const kept = await servedForm(x4fast, { task });
    expect(kept.bytes).toBe(x4fast);
    expect(kept.rowStrips).toEqual([]);
    expect(kept.before).toBeUndefined();
  });

  describe('a dense concat (esrgan-medium-x4: ten blocks joined for one 1×1 conv)', () => {
    const medium = quantized('models/esrgan-medium-x4.onnx');
    const spans = ['F_3_1', 'F_4_1', 'F_5_1', 'F_6_1', 'F_7_1', 'F_8_1', 'F_9_1', 'F_10_1', 'GFF_2'];

    it('plans the Concat with its 1×1 conv, and the 3×3 convs that run while its inputs wait, in 2, 3 and 4 strips', () => {
      const plans = denseConcatPlans(decodeModel(medium));
      expect(plans.map((p) => p.map((c) => c.strips))).toEqual([2, 3, 4].map((k) => Array(10).fill(k)));
      expect(plans[0]!.map((c) => c.node)).toEqual(['GFF_1', ...spans]);
      expect(plans[0]![0]!.concat).toBe(true);
      // Slim has no dense concat; a served file is not split again.
      expect(denseConcatPlans(decodeModel(slim))).toEqual([]);
      expect(denseConcatPlans(decodeModel(readFileSync('src-edge/models/esrgan-medium-x4.int8.onnx')))).toEqual([]);
    });

    it('gives byte-equal outputs on node and web at every height, 1 row included, and ORT fuses every strip', async () => {
      const model = decodeModel(medium);
      const split = encodeModel(splitConvRows(model, denseConcatPlans(model)[2]!));
      // Below 4 rows the strips overlap and each drops the rows the one before gave.
      const sizes: [number, number][] = [[1, 5], [2, 3], [3, 7], [5, 9], [17, 13]];
      for (const runtime of ['node', 'web'] as const) {
        const [a, b] = [await outputs(runtime, medium, sizes), await outputs(runtime, split, sizes)];
        for (const [i, [h, w]] of sizes.entries()) {
          expect(b[i]!.dims, `${runtime} ${h}×${w}`).toEqual([1, 3, 4 * h, 4 * w]);
          expect(b[i]!.data, `${runtime} ${h}×${w}`).toEqual(a[i]!.data);
        }
      }
      const optimized = (await optimizedGraph(split)).graph!.node!;
      expect(optimized.filter((n) => n.opType === 'QLinearConv' && /^GFF_1\.rows\.\d/.test(n.name ?? ''))).toHaveLength(4);
      expect(optimized.filter((n) => n.opType === 'QLinearConcat')).toHaveLength(4 + 10); // the strips' and the ten blocks' own
      const [coverage, unsplit] = [await int8Coverage(split), await int8Coverage(medium)];
      expect(coverage.floatLayers).toEqual([]);
      expect([coverage.int8Layers, coverage.layers]).toEqual([unsplit.layers, unsplit.layers]);
    });

    it('is served with the plan that measures lowest: 45% less wasm memory a window px', async () => {
      const served = await servedForm(medium, { task });
      expect(served.rowStrips.filter((c) => c.concat).map((c) => c.node)).toEqual(['GFF_1']);
      expect(served.rowStrips.map((c) => c.node)).toEqual(['UPN1', 'GFF_1', ...spans]);
      // Measured (default calibration): 2000 → 1096 B a window px with 4 strips (1552 with UPN1's alone).
      expect(served.memory.bytesPerPixel / served.before!.bytesPerPixel).toBeLessThan(0.58);
    });
  });
});
