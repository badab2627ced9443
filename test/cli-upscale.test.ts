// srq upscale / srq import through the real binary, as a user runs them out of the box.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage, encodePng, makeLowRes, resizeBicubic } from '../src-core/image/index.ts';
import { psnr } from '../src-core/metrics/index.ts';
import { expectOneLineError, srq } from './helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'srq-upscale-'));
const model = 'models/esrgan-medium-x4.onnx';

describe('srq upscale', () => {
  // The photo, ×4 bicubic down, is the input; the photo itself is the ground truth.
  const photo = decodeImage(readFileSync('images/coffee.png'));
  const { hr, lr } = makeLowRes(photo, 4);
  const lrPath = join(work, 'coffee-lr.png');
  writeFileSync(lrPath, encodePng(lr));

  it('upscales a photo ×4 tile by tile, equal to whole-image inference within 1 LSB, and beats bicubic', () => {
    const tiled = join(work, 'tiled.png');
    const whole = join(work, 'whole.png');
    // 64 px windows keep the model's 18 px of context on each inner side: 5×3 tiles.
    const t = srq(['upscale', model, lrPath, '-o', tiled, '--tile', '64']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/150×100 → 600×400 \(×4\) in 15 tiles of 64² \+ 18 px overlap/);
    expect(srq(['upscale', model, lrPath, '-o', whole, '--tile', '256']).stdout).toMatch(/in 1 tile of 256²/);
    const a = decodeImage(readFileSync(tiled));
    const b = decodeImage(readFileSync(whole));
    let maxDiff = 0;
    for (let i = 0; i < a.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i]! - b.data[i]!));
    expect(maxDiff).toBeLessThanOrEqual(1);
    const bicubic = resizeBicubic(lr, hr.width, hr.height);
    expect(psnr(hr, a, { crop: 4, channel: 'y' })).toBeGreaterThan(psnr(hr, bicubic, { crop: 4, channel: 'y' }));
  });

  it('writes JPEG and keeps alpha in PNG', () => {
    const jpg = join(work, 'out.jpg');
    expect(srq(['upscale', 'models/esrgan-slim-x2.onnx', lrPath, '-o', jpg, '--quality', '80']).code).toBe(0);
    expect(decodeImage(readFileSync(jpg)).width).toBe(300);
    const rgba = decodeImage(readFileSync('test/fixtures/metrics/astronaut-lr-x4.png'));
    const withAlpha = { ...rgba, channels: 4 as const, data: new Uint8Array(rgba.width * rgba.height * 4) };
    for (let i = 0; i < rgba.width * rgba.height; i++) {
      withAlpha.data.set(rgba.data.subarray(i * 3, i * 3 + 3), i * 4);
      withAlpha.data[i * 4 + 3] = i % rgba.width < rgba.width / 2 ? 255 : 64;
    }
    const inPath = join(work, 'alpha.png');
    writeFileSync(inPath, encodePng({ ...withAlpha, width: rgba.width, height: rgba.height }));
    const out = join(work, 'alpha-x2.png');
    expect(srq(['upscale', 'models/esrgan-slim-x2.onnx', inPath, '-o', out]).code).toBe(0);
    const up = decodeImage(readFileSync(out));
    expect(up.channels).toBe(4);
    expect(up.data[3]).toBe(255);
    expect(up.data[(up.width - 1) * 4 + 3]).toBe(64);
  });

  describe('bad input: exit 2, one line, nothing written', () => {
    const out = join(work, 'never.png');
    const cases: [string, () => string[], RegExp][] = [
      ['missing model', () => ['upscale', 'missing.onnx', lrPath, '-o', out], /cannot read model missing\.onnx: no such file/],
      ['not ONNX', () => ['upscale', 'package.json', lrPath, '-o', out], /package\.json is not/],
      ['truncated ONNX', () => {
        const cut = join(work, 'cut.onnx');
        writeFileSync(cut, readFileSync(model).subarray(0, 5000));
        return ['upscale', cut, lrPath, '-o', out];
      }, /not a readable ONNX model/],
      ['missing image', () => ['upscale', model, 'nope.png', '-o', out], /cannot read image nope\.png: no such file/],
      ['not an image', () => ['upscale', model, 'tsconfig.json', '-o', out], /tsconfig\.json: image format not recognised/],
      ['image over the pixel limit', () => ['upscale', model, lrPath, '-o', out, '--max-pixels', '10000'], /150x100.*over the limit/],
      ['unknown output format', () => ['upscale', model, lrPath, '-o', join(work, 'out.gif')], /must end in \.png, \.jpg or \.jpeg/],
      ['output over the input image', () => {
        const p = join(work, 'same.png');
        copyFileSync(lrPath, p);
        return ['upscale', 'models/esrgan-slim-x2.onnx', p, '-o', p];
      }, /is also an input/],
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

describe('srq import', () => {
  it('converts an UpscalerJS package model into the committed default model, byte for byte', () => {
    const out = join(work, 'imported.onnx');
    const r = srq(['import', 'node_modules/@upscalerjs/esrgan-slim/models/x4/model.json', '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/imported esrgan-slim-x4: ×4/);
    expect(Buffer.compare(readFileSync(out), readFileSync('models/esrgan-slim-x4.onnx'))).toBe(0);
  });

  it('names an unsupported layer and its class', () => {
    const dir = join(work, 'unsupported');
    mkdirSync(dir, { recursive: true });
    const json = JSON.parse(readFileSync('node_modules/@upscalerjs/esrgan-slim/models/x2/model.json', 'utf8'));
    const layers = json.modelTopology.model_config.config.layers;
    const relu = layers.find((l: { class_name: string }) => l.class_name === 'Activation');
    relu.class_name = 'BatchNormalization';
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    copyFileSync('node_modules/@upscalerjs/esrgan-slim/models/x2/group1-shard1of1.bin', join(dir, 'group1-shard1of1.bin'));
    const r = srq(['import', join(dir, 'model.json'), '-o', join(dir, 'out.onnx')]);
    expect(r.code).toBe(2);
    expect(expectOneLineError(r)).toMatch(new RegExp(`${relu.name}.*BatchNormalization`));
    expect(existsSync(join(dir, 'out.onnx'))).toBe(false);
  });
});
