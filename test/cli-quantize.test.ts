// srq info / srq quantize through the real binary: outputs, and one clear line for each kind of bad input.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataType } from '../src-core/onnx/index.ts';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/build.ts';
import { decodeModel, encodeModel, getMetadata } from '../src-core/onnx/model.ts';
import { expectOneLineError, srq } from './helpers/cli.ts';
import { opset6Shuffle } from './helpers/small-sr-models.ts';

const work = mkdtempSync(join(tmpdir(), 'srq-cli-'));
const model = 'models/esrgan-slim-x2.onnx';

describe('srq info', () => {
  it('describes a default model', () => {
    const r = srq(['info', model]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/scale\s+×2/);
    expect(r.stdout).toMatch(/precision\s+fp32/);
    expect(r.stdout).toMatch(/input: float\[1, 3, h, w\]/);
    const json = JSON.parse(srq(['info', model, '--json']).stdout);
    expect(json.scale).toBe(2);
    expect(json.ops.Conv).toBe(12);
  });
});

describe('srq quantize', () => {
  it('writes static INT8, dynamic INT8 and FP16 variants that srq info recognises', () => {
    for (const mode of ['int8-static', 'int8-dynamic', 'fp16']) {
      const out = join(work, `${mode}.onnx`);
      const r = srq(['quantize', model, '-o', out, '--mode', mode, '--calib-tiles', '8', '--calib', 'images/chelsea.png']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^${mode}:`));
      const info = JSON.parse(srq(['info', out, '--json']).stdout);
      expect(info.precision).toBe(mode);
      expect(info.scale).toBe(2);
    }
  });

  it('reports int8 kernels with --optimized and writes a per-tensor error report sorted worst first', () => {
    const out = join(work, 'report.onnx');
    const report = join(work, 'report.json');
    expect(srq(['quantize', model, '-o', out, '--calib-tiles', '8', '--report', report]).code).toBe(0);
    // null = no error at all (the 8-bit image input quantizes exactly).
    const tensors = JSON.parse(readFileSync(report, 'utf8')).tensors as { sqnrDb: number | null; tensor: string }[];
    const db = tensors.map((t) => t.sqnrDb ?? Infinity);
    expect(tensors.length).toBeGreaterThan(10);
    for (let i = 1; i < db.length; i++) expect(db[i]!).toBeGreaterThanOrEqual(db[i - 1]!);
    expect(tensors.find((t) => t.tensor === 'input')?.sqnrDb).toBeNull();
    expect(srq(['info', out, '--optimized']).stdout).toMatch(/int8 convs 12 of 12; Q\/DQ left: 1 Q, 1 DQ/);
  });

  it('--prelu picks the PReLUs\' int8 form: element-wise ops, pair convs or whole; by default the runtime\'s', () => {
    const srvgg = 'test/fixtures/corpus/srvgg-x2-interp-size.onnx';
    const forms = { 'mul-add': [undefined, 0], 'pair-conv': ['pair-conv', 0], whole: ['whole', 7] } as const;
    for (const [form, [metadata, prelus]] of Object.entries(forms)) {
      const out = join(work, `srvgg-${form}.onnx`);
      const r = srq(['quantize', srvgg, '-o', out, '--calib-tiles', '4', '--calib', 'images/chelsea.png', '--prelu', form]);
      expect(r.code, r.stderr).toBe(0);
      const m = decodeModel(readFileSync(out));
      expect(getMetadata(m, 'srq.prelu')).toBe(metadata);
      expect(m.graph!.node!.filter((n) => n.opType === 'PRelu')).toHaveLength(prelus);
      // Every conv int8 in each form (pair convs add a 1×1 conv per PReLU).
      expect(r.stdout).toMatch(form === 'pair-conv' ? /int8 coverage: 100\.0% of MACs \(15\/15 convs\)/ : /int8 coverage: 100\.0% of MACs \(8\/8 convs\)/);
    }
    // Without --prelu the form follows --runtime: pair convs on onnxruntime-node, whole on wasm.
    for (const [runtime, metadata] of [['node', 'pair-conv'], ['web', 'whole']] as const) {
      const out = join(work, `srvgg-default-${runtime}.onnx`);
      const r = srq(['quantize', srvgg, '-o', out, '--calib-tiles', '4', '--calib', 'images/chelsea.png', '--runtime', runtime]);
      expect(r.code, r.stderr).toBe(0);
      expect(getMetadata(decodeModel(readFileSync(out)), 'srq.prelu')).toBe(metadata);
    }
  });

  describe('bad input: exit 2, one line, nothing written', () => {
    const out = join(work, 'never.onnx');
    const cases: [string, () => string[], RegExp][] = [
      ['missing model file', () => ['quantize', 'nope.onnx', '-o', out], /cannot read model nope\.onnx: no such file/],
      ['not ONNX', () => ['quantize', 'package.json', '-o', out], /package\.json is not/],
      ['truncated ONNX', () => {
        const cut = join(work, 'cut.onnx');
        const bytes = readFileSync(model);
        writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
        return ['quantize', cut, '-o', out];
      }, /not a readable ONNX model.*truncated/],
      ['already quantized', () => {
        const q = join(work, 'already.onnx');
        if (!existsSync(q)) srq(['quantize', model, '-o', q, '--mode', 'int8-dynamic']);
        return ['quantize', q, '-o', out];
      }, /already int8-dynamic; quantize the original FP32 model/],
      ['no float weights', () => {
        // One Add of two inputs, as the ONNX test suite's test_add: nothing to quantize.
        const p = join(work, 'add.onnx');
        writeFileSync(p, encodeModel(makeModel(makeGraph({
          name: 'add',
          nodes: [makeNode('Add', ['x', 'y'], ['sum'])],
          inputs: [makeValueInfo('x', DataType.FLOAT, [3, 4, 5]), makeValueInfo('y', DataType.FLOAT, [3, 4, 5])],
          outputs: [makeValueInfo('sum', DataType.FLOAT, [3, 4, 5])],
        }))));
        return ['quantize', p, '-o', out];
      }, /has no float32 weights/],
      // Opset 7–12 exports are upgraded to 13 (test/opset-upgrade.test.ts); older ones are refused.
      ['unsupported opset', () => {
        const p = join(work, 'opset6.onnx');
        writeFileSync(p, encodeModel(opset6Shuffle()));
        return ['quantize', p, '-o', out];
      }, /opset6\.onnx uses opset 6; srq upgrades opset 7 or newer \(re-export the model with opset 13 or newer\)/],
      ['no calibration images', () => {
        const empty = join(work, 'empty');
        mkdirSync(empty, { recursive: true });
        return ['quantize', model, '-o', out, '--calib', empty];
      }, /holds no \.png or \.jpg images/],
      ['calibration images smaller than one tile', () => ['quantize', model, '-o', out, '--calib', 'images/chelsea.png', '--tile', '512'], /smaller than one 512² tile \(chelsea\.png 451×300\)/],
      ['calibration file that is not an image', () => ['quantize', model, '-o', out, '--calib', 'package.json'], /package\.json: image format not recognised/],
      ['output over the input', () => {
        const p = join(work, 'in-place.onnx');
        copyFileSync(model, p);
        return ['quantize', p, '-o', p, '--mode', 'fp16'];
      }, /is also an input; choose another output file/],
      ['missing -o', () => ['quantize', model], /needs -o/],
      ['--exclude naming nothing in the model', () => ['quantize', model, '-o', out, '--exclude', 'Conv,LayerNorm'], /--exclude LayerNorm: no node or op type of that name/],
      ['unknown mode', () => ['quantize', model, '-o', out, '--mode', 'int4'], /--mode must be one of int8-static, int8-dynamic, fp16/],
      ['unknown PReLU form', () => ['quantize', model, '-o', out, '--prelu', 'fast'], /--prelu must be one of mul-add, pair-conv, whole/],
      ['PReLU form without static INT8', () => ['quantize', model, '-o', out, '--mode', 'fp16', '--prelu', 'whole'], /--prelu needs --mode int8-static \(fp16 keeps PReLUs as they are\)/],
      ['unknown flag', () => ['quantize', model, '-o', out, '--fast'], /Unknown option '--fast'/],
    ];
    for (const [name, args, message] of cases) {
      it(name, () => {
        const r = srq(args());
        expect(r.code).toBe(2);
        expect(expectOneLineError(r)).toMatch(message);
        expect(existsSync(out)).toBe(false);
      });
    }
  });
});
