// Activation equalization (src-core/quantize/equalize.ts): which conv pairs it rescales, that the float model keeps
// its outputs, and what it buys static INT8 on third-party models, measured on held-out photo crops.
import { describe, expect, it } from 'vitest';
import { readImages } from '../src-core/image/image-files.node.ts';
import { cloneModel, getMetadata } from '../src-core/onnx/model.ts';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import { optimizeGraph } from '../src-core/optimize/index.ts';
import { builtInPhotos } from '../src-core/package-root.node.ts';
import { cutCalibrationTiles } from '../src-core/quantize/calibration-tiles.ts';
import { calibrate, measureMinMax, type RunnerFactory } from '../src-core/quantize/calibrate.ts';
import { equalizationSites, equalizeActivations, measureChannelRanges, siteTensors } from '../src-core/quantize/equalize.ts';
import { quantizeStatic } from '../src-core/quantize/static.ts';
import { cropFidelity as fidelity, nodeRunnerFactory as factory, outputsOnCrops as outputs } from './helpers/held-out-crops.ts';

const tiles = cutCalibrationTiles(readImages(builtInPhotos('calibration')), { count: 8, tileSize: 64, seed: 3 });

const X4FAST = 'test/fixtures/corpus/realesr-x4fast-pytorch.onnx';
const WAIFU2X = 'test/fixtures/corpus/waifu2x-upconv7-x2.onnx';

describe('activation equalization', () => {
  it('finds every conv whose output reaches only convs through PRelu or LeakyRelu, not the last conv', () => {
    const x4fast = readModelFile(X4FAST);
    optimizeGraph(x4fast, { staticInt8: true });
    // SRVGGNetCompact: 34 convs, each but the last followed by a PRelu read by the next conv.
    const sites = equalizationSites(x4fast);
    expect(sites).toHaveLength(33);
    expect(sites.every((s) => s.tensors.length === 2 && s.consumers.length === 1)).toBe(true);
    // waifu2x upconv_7: six 3×3 convs with LeakyRelu between them, then the ConvTranspose's sub-pixel conv.
    const waifu2x = readModelFile(WAIFU2X);
    optimizeGraph(waifu2x, { staticInt8: true });
    expect(equalizationSites(waifu2x)).toHaveLength(6);
  });

  it.each([[X4FAST], [WAIFU2X]])('%s: the rescaled float model computes the same outputs', async (path) => {
    const model = readModelFile(path);
    optimizeGraph(model, { staticInt8: true });
    const rescaled = cloneModel(model);
    const { convs } = await equalizeActivations(rescaled, tiles, factory);
    expect(convs).toBeGreaterThan(0);
    const [before, after] = [await outputs(model), await outputs(rescaled)];
    // Float32 rounding only: measured 141.6 (x4fast) and 144.5 dB (waifu2x).
    expect(fidelity(after, before)).toBeGreaterThan(130);
  }, 60_000);

  // Measured (8 tiles of 64², MSE ranges, bias correction; fidelity to FP32 on the 12 held-out crops):
  // x4fast 36.86 → 38.94 dB, waifu2x 44.72 → 47.78 dB.
  it.each([
    [X4FAST, 1.7],
    [WAIFU2X, 2.5],
  ])('%s: static INT8 with equalization is closer to FP32 on held-out crops', async (path, gain) => {
    const model = readModelFile(path);
    const reference = await outputs(model);
    const on = await quantizeStatic(model, { tiles, createRunner: factory });
    const off = await quantizeStatic(model, { tiles, createRunner: factory, equalization: false });
    expect(getMetadata(on.model, 'srq.equalization')).toMatch(/^\d+ convs$/);
    expect(getMetadata(off.model, 'srq.equalization')).toBeUndefined();
    const [fOn, fOff] = [fidelity(await outputs(on.model), reference), fidelity(await outputs(off.model), reference)];
    expect(fOn).toBeGreaterThan(fOff + gain);
  }, 120_000);

  it('takes its channels from calibration\'s min/max pass, so a model without PRelus is run one pass fewer', async () => {
    // waifu2x (LeakyRelu): equalization's channels and the rescaled tensors' ranges come from the pass before it.
    const model = readModelFile(WAIFU2X);
    let runs = 0;
    const counting: RunnerFactory = async (bytes, hints) => {
      const runner = await factory(bytes, hints);
      return { ...runner, runOutputs: (...args) => { runs++; return runner.runOutputs(...args); } };
    };
    const q = await quantizeStatic(model, { tiles, createRunner: counting, method: 'minmax', biasCorrection: false, gptq: false });
    // One min/max run a tile (before: the per-channel pass, then min/max on the rescaled model: 2 a tile).
    expect(runs).toBe(tiles.length);
    expect(q.equalization!.convs).toBe(6);

    const float = readModelFile(WAIFU2X);
    optimizeGraph(float, { staticInt8: true });
    const sites = equalizationSites(float);
    const alone = await measureChannelRanges(float, sites, tiles, factory);
    for (const [t, r] of alone) expect([...q.equalization!.ranges.get(t)!]).toEqual([...r]);
    // Pass 1's per-channel min/max of a tensor bound its per-tensor range exactly.
    const pass = await measureMinMax(float, siteTensors(sites), tiles, { createRunner: factory }, siteTensors(sites));
    for (const [t, r] of pass.ranges) {
      expect(Math.min(...pass.channels.get(t)!.min)).toBe(r.min);
      expect(Math.max(...pass.channels.get(t)!.max)).toBe(r.max);
    }
    // The ranges derived for the rescaled tensors against a min/max pass over the rescaled model: float rounding
    // only (measured within 1.6e-7 of the range).
    const rescaled = q.floatModel;
    const tensors = [...q.calibration.ranges.keys()];
    const direct = await calibrate(rescaled, tensors, tiles, { method: 'minmax', createRunner: factory });
    let worst = 0;
    for (const t of tensors) {
      const [a, b] = [q.calibration.ranges.get(t)!, direct.ranges.get(t)!];
      worst = Math.max(worst, Math.abs(a.min - b.min) / (b.max - b.min), Math.abs(a.max - b.max) / (b.max - b.min));
    }
    expect(worst).toBeLessThan(1e-6);
    // …among them the rescaled tensors the plan quantizes (LeakyRelu outputs).
    expect(siteTensors(sites).filter((t) => q.calibration.ranges.has(t)).length).toBeGreaterThanOrEqual(6);
  }, 60_000);

  it('measures channels the same at opset 18, where ReduceMin and ReduceMax take their axes as an input', async () => {
    const model = readModelFile(WAIFU2X);
    optimizeGraph(model, { staticInt8: true });
    const tensors = siteTensors(equalizationSites(model));
    const at18 = cloneModel(model);
    at18.opsetImport = [{ domain: '', version: 18 }];
    const [a, b] = [
      await measureMinMax(model, tensors, tiles.slice(0, 2), { createRunner: factory }, tensors),
      await measureMinMax(at18, tensors, tiles.slice(0, 2), { createRunner: factory }, tensors),
    ];
    for (const t of tensors) {
      expect(a.channels.get(t)!.max.length).toBe(b.channels.get(t)!.max.length);
      expect([...b.channels.get(t)!.min]).toEqual([...a.channels.get(t)!.min]);
      expect([...b.channels.get(t)!.max]).toEqual([...a.channels.get(t)!.max]);
    }
  }, 60_000);
});
