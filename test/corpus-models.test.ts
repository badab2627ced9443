// Real-world corpus: PyTorch-exported SR models (scripts/export-corpus.py). Each file in corpus.json must load in
// onnxruntime-node, give outputs of s·n − 2b per axis at two input sizes, and reproduce torch's output for the
// stored reference input.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { decodeModel, opsetVersion } from '../src-core/onnx/model.ts';

const dir = join(import.meta.dirname, 'fixtures', 'corpus');

interface CorpusEntry {
  file: string;
  family: string;
  opset: number;
  scale: number;
  border: number;
  inputRange: number;
  bytes?: number;
  sha256?: string;
  ops?: string[];
  reference?: { file: string; inputShape: number[]; outputShape: number[]; ortMaxAbsDiff: number };
}

const corpus = JSON.parse(readFileSync(join(dir, 'corpus.json'), 'utf8')) as { models: CorpusEntry[] };

/** Deterministic pseudo-random input in [0, range). */
function input(h: number, w: number, range: number, seed: number): ort.Tensor {
  let s = seed >>> 0;
  const data = Float32Array.from({ length: 3 * h * w }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * range;
  });
  return new ort.Tensor('float32', data, [1, 3, h, w]);
}

describe('PyTorch-exported corpus (test/fixtures/corpus)', () => {
  it('lists the script-made models', () => {
    const files = corpus.models.map((m) => m.file);
    for (const f of ['rrdbnet-x4-6b.onnx', 'waifu2x-upconv7-x2.onnx', 'edsr-x2.onnx', 'swinir-lite-x2.onnx', 'srvgg-x2-interp-size.onnx', 'srcnn-upsample-x2.onnx']) {
      expect(files).toContain(f);
    }
  });

  for (const entry of corpus.models) {
    it(`${entry.file}: ${entry.family} x${entry.scale}, border ${entry.border}, range ${entry.inputRange}, opset ${entry.opset}`, async () => {
      const bytes = readFileSync(join(dir, entry.file));
      if (entry.bytes !== undefined) expect(bytes.length).toBe(entry.bytes);
      if (entry.sha256) expect(createHash('sha256').update(bytes).digest('hex')).toBe(entry.sha256);
      const model = decodeModel(bytes);
      expect(opsetVersion(model)).toBe(entry.opset);
      if (entry.ops) expect([...new Set(model.graph!.node!.map((n) => n.opType!))].sort()).toEqual(entry.ops);

      const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
      try {
        const { scale: s, border: b } = entry;
        for (const [h, w] of [[32, 40], [48, 64]] as const) {
          const out = (await session.run({ [session.inputNames[0]!]: input(h, w, entry.inputRange, h * w) }))[session.outputNames[0]!]!;
          expect(out.dims).toEqual([1, 3, s * h - 2 * b, s * w - 2 * b]);
        }
        if (entry.reference) {
          const ref = entry.reference;
          const raw = readFileSync(join(dir, ref.file));
          const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
          const inSize = ref.inputShape.reduce((a, c) => a * c, 1);
          const outSize = ref.outputShape.reduce((a, c) => a * c, 1);
          expect(all.length).toBe(inSize + outSize);
          const feed = new ort.Tensor('float32', all.slice(0, inSize), ref.inputShape);
          const out = (await session.run({ [session.inputNames[0]!]: feed }))[session.outputNames[0]!]!;
          expect(out.dims).toEqual(ref.outputShape);
          const want = all.subarray(inSize);
          const got = out.data as Float32Array;
          let maxDiff = 0;
          for (let i = 0; i < outSize; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
          // The script measured ORT vs torch (ortMaxAbsDiff); allow a margin for other CPUs' kernels.
          expect(maxDiff).toBeLessThanOrEqual(Math.max(8 * ref.ortMaxAbsDiff, 1e-5 * entry.inputRange));
        }
      } finally {
        await session.release();
      }
    });
  }

  it('other engineers\' files are listed only when present', () => {
    for (const m of corpus.models) expect(existsSync(join(dir, m.file)), m.file).toBe(true);
  });
});
