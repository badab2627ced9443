// srq quantize through the real binary: every written model has loaded and run in onnxruntime-node first (a model
// that would not is refused, exit 1, nothing written), and opset 9 exports are upgraded to 13 and said so.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeModel, getMetadata, opsetVersion } from '../src-core/onnx/model.ts';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import { checkModelLoads } from '../src-core/runtime/load-check.node.ts';
import { expectOneLineError, srq } from './helpers/cli.ts';
import { opset9Upsample, leavesFloat16Range } from './helpers/small-sr-models.ts';

const work = mkdtempSync(join(tmpdir(), 'srq-load-check-'));

describe('srq quantize: nothing is written that ORT would refuse', () => {
  it('an FP16 model whose values leave float16\'s range is refused: exit 1, one line naming the file, ORT\'s finding and what to do', () => {
    const input = join(work, 'underflow.onnx');
    writeFileSync(input, encodeModel(leavesFloat16Range()));
    const out = join(work, 'underflow.fp16.onnx');
    const r = srq(['quantize', input, '-o', out, '--mode', 'fp16']);
    expect(r.code).toBe(1);
    const line = expectOneLineError(r);
    expect(line).toMatch(/^srq: \S+underflow\.fp16\.onnx would not run in onnxruntime-node 1\.30\.0 \(output output holds non-finite values \((NaN|-?Infinity) at \d+\) on a mid-grey test input\), so it was not written; /);
    expect(line.endsWith(`float16 cannot hold this model's values, or srq converted it wrongly (report it with ${input}); use --mode int8-static or int8-dynamic`)).toBe(true);
    expect(existsSync(out)).toBe(false);
    // The same model in INT8 is fine.
    const int8 = join(work, 'underflow.int8.onnx');
    expect(srq(['quantize', input, '-o', int8, '--mode', 'int8-dynamic']).code).toBe(0);
    expect(existsSync(int8)).toBe(true);
  });
});

describe('srq quantize: opset 9 exports', () => {
  const input = join(work, 'opset9.onnx');
  writeFileSync(input, encodeModel(opset9Upsample()));
  for (const mode of ['int8-static', 'int8-dynamic', 'fp16']) {
    it(`${mode}: written, loads, and the upgrade is reported`, async () => {
      const out = join(work, `opset9.${mode}.onnx`);
      const r = srq(['quantize', input, '-o', out, '--mode', mode, '--calib-tiles', '8', '--tile', '32']);
      expect(r.code, r.stderr).toBe(0);
      const written = readModelFile(out);
      if (mode === 'fp16') {
        // FP16 needs no opset 13: the model keeps its opset and its Upsample.
        expect(r.stdout).not.toMatch(/upgraded/);
        expect(opsetVersion(written)).toBe(9);
      } else {
        expect(r.stdout).toMatch(/^upgraded opset 9 → 13 \(Upsample → Resize, Clip min\/max → inputs\)$/m);
        expect(opsetVersion(written)).toBe(13);
        expect(getMetadata(written, 'srq.opset_upgrade')).toBe('opset 9 → 13 (Upsample → Resize, Clip min/max → inputs)');
      }
      const loaded = await checkModelLoads(readFileSync(out), { name: out });
      expect(loaded.outputs['output']).toEqual([1, 3, 32, 32]);
    });
  }
});
