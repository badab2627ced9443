// int8 coverage: the share of conv/matmul MACs ORT's optimised graph runs in int8 kernels, the layers left float
// and why, and the --min-coverage gate through the real binary. Shares are checked against MACs worked out by hand
// from the weight shapes (every slim conv runs at the input size; waifu2x's unpadded convs shrink by 2 px each).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Graph } from '../src-core/onnx/graph.ts';
import { decodeModel, encodeModel, setMetadata } from '../src-core/onnx/model.ts';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import { DataType, tensorDims } from '../src-core/onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../src-core/onnx/types.ts';
import { buildManifest, type ManifestEntry } from '../src-core/manifest.ts';
import { atQdqOpset } from '../src-core/quantize/checks.ts';
import { checkCoverage, coverageLine, gateCoverage, SEARCH_WHY } from '../src-core/quantize/coverage.ts';
import { renderMarkdown } from '../src-core/report/markdown.ts';
import { readInputs } from '../src-action/inputs.ts';
import { failureLines } from '../src-core/report/summary.ts';
import type { ValidationReport } from '../src-core/validate/schema.ts';
import { COVERAGE_INPUT, int8Coverage } from '../src-core/quantize/coverage.node.ts';
import { applyPlan, exactInt32 } from '../src-core/quantize/rewrite.ts';
import { planQuantization, settleRanges } from '../src-core/quantize/static.ts';
import { expectOneLineError, srq } from './helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'srq-coverage-'));
const slim = 'models/esrgan-slim-x4.onnx';
const fast = ['--calib-tiles', '2', '--tile', '32', '--calib', 'images/chelsea.png'];

/** Dims of a layer's weight: the initializer itself, or the int8 one behind its DequantizeLinear. */
function weightDims(model: ModelProto, node: NodeProto): number[] {
  const g = new Graph(model.graph!);
  const w = node.input![1]!;
  const p = g.producer(w);
  return tensorDims(g.initializer(p?.opType === 'DequantizeLinear' ? p.input![0]! : w)!);
}
const prod = (d: number[]) => d.reduce((a, b) => a * b, 1);

const quantize = (out: string, ...args: string[]) => srq(['quantize', slim, '-o', out, ...fast, ...args]);

describe('int8 coverage', () => {
  it('static INT8 of esrgan-slim-x4: every conv runs as an int8 kernel, one Q/DQ pair left at the edges', async () => {
    const out = join(work, 'slim.onnx');
    const r = quantize(out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^int8 coverage: 100\.0% of MACs \(12\/12 convs\), Q\/DQ left: 1\/1$/m);
    const c = await int8Coverage(readFileSync(out));
    expect(c).toMatchObject({ int8MacShare: 1, int8Layers: 12, layers: 12, unit: 'convs', floatLayers: [], quantizedByOrt: [], quantizeNodes: 1, dequantizeNodes: 1 });
    expect(srq(['info', out, '--optimized']).stdout).toMatch(/^coverage {3}int8 coverage: 100\.0% of MACs \(12\/12 convs\), Q\/DQ left: 1\/1$/m);
  });

  it('--exclude of a conv at the graph output: coverage drops by exactly its share of the MACs', async () => {
    // The Clip and DepthToSpace after it are excluded too, or their rules would quantize its output and ORT would
    // run it in int8 anyway (it quantizes a float weight between Q/DQ pairs itself; see the next test).
    const out = join(work, 'no-sr.onnx');
    const r = quantize(out, '--exclude', 'SR_subpixel,output,SR_depth_to_space');
    expect(r.code, r.stderr).toBe(0);
    const model = readModelFile(out);
    // Every slim conv is a padded 3×3 at the input size: MACs ∝ Cout·Cin·3·3.
    const convs = model.graph!.node!.filter((n) => n.opType === 'Conv');
    const convMacs = new Map(convs.map((n) => [n.name!, prod(weightDims(model, n))]));
    const share = convMacs.get('SR_subpixel')! / [...convMacs.values()].reduce((a, b) => a + b, 0);
    expect(share).toBeCloseTo(0.0822, 4); // 48·64·9 of 16 convs' worth
    const c = await int8Coverage(readFileSync(out));
    expect(c.int8MacShare).toBeCloseTo(1 - share, 12);
    expect(c.floatLayers).toEqual([{ name: 'SR_subpixel', op: 'Conv', macShare: expect.closeTo(share, 12), why: 'left float by --exclude' }]);
    // The second DQ gives the float conv its exact bias (so that ORT leaves it float).
    expect(coverageLine(c)).toBe('int8 coverage: 91.8% of MACs (11/12 convs), Q/DQ left: 1/2');
    expect(r.stdout).toContain(coverageLine(c));
  });

  it('a conv srq leaves float between Q/DQ pairs stays float in ORT, its bias exact', async () => {
    // ORT's WeightBiasQuantization would quantize a float conv's weights (one int8 scale per tensor) between Q/DQ;
    // srq gives such a conv its bias through an exact DequantizeLinear, which stops it. Before, ORT ran UPN1 and UPN2
    // in int8 (coverage 100%) with coarser weights than srq's.
    const out = join(work, 'between.onnx');
    const r = quantize(out, '--exclude', 'UPN1,UPN2', '--min-coverage', '50');
    expect(r.code, r.stderr).toBe(0);
    const c = await int8Coverage(readFileSync(out));
    expect(c.quantizedByOrt).toEqual([]);
    expect(c.floatLayers.map((l) => [l.name, l.why])).toEqual([['UPN1', 'left float by --exclude'], ['UPN2', 'left float by --exclude']]);
    expect(r.stdout).not.toMatch(/ORT runs in int8/);
    const model = decodeModel(readFileSync(out));
    const graph = new Graph(model.graph!);
    for (const name of ['UPN1', 'UPN2']) {
      const conv = graph.nodes.find((n) => n.name === name)!;
      expect(graph.initializer(conv.input![1]!)?.dataType).toBe(DataType.FLOAT);
      expect(graph.producer(conv.input![2]!)?.opType).toBe('DequantizeLinear');
    }
    // The int32 bias at a power-of-two scale gives every float32 value back exactly.
    const values = Float32Array.from([0, 1, -1, 0.1, -3.3e-7, 123456.78, 2 ** -120, -(2 ** 20), ...Array.from({ length: 200 }, (_, i) => Math.sin(i * 7.1) * 10 ** ((i % 12) - 6))]);
    const { data, scales } = exactInt32(values);
    expect(Float32Array.from(data, (q, i) => q * scales[i]!)).toEqual(values);
    expect(data.every((q) => Math.abs(q) <= 2 ** 30)).toBe(true);
  });

  it('a QDQ ConvTranspose (waifu2x upconv_7) stays float in ORT: its share is missing and the reason names the kernel', async () => {
    // srq now rewrites ConvTranspose into Conv + DepthToSpace before quantizing (then all 7 convs run int8); QDQ
    // models made without that rewrite (older srq, other tools) still hold one. Made here by srq's own planner and
    // rewriter on the unrewritten graph; the ranges do not matter to which kernels ORT picks.
    const path = 'test/fixtures/corpus/waifu2x-upconv7-x2.onnx';
    const { model } = atQdqOpset(readModelFile(path), path);
    const plan = planQuantization(model);
    const ranges = settleRanges(model, plan, new Map(plan.calibrationTensors().map((t) => [t, { min: -1, max: 1 }])));
    applyPlan(model, plan, ranges, 'u8');
    const layers = model.graph!.node!.filter((n) => n.opType === 'Conv' || n.opType === 'ConvTranspose');
    expect(layers.map((n) => n.opType)).toEqual([...Array(6).fill('Conv'), 'ConvTranspose']);
    // Six unpadded 3×3 convs: conv i (1-based) outputs (64 − 2i)²; the 4×4 stride-2 ConvTranspose reads 52².
    const macs = layers.map((n, i) => {
      const [a, b, kh, kw] = weightDims(model, n) as [number, number, number, number];
      return n.opType === 'Conv' ? a * b * kh * kw * (COVERAGE_INPUT - 2 * (i + 1)) ** 2 : a * b * kh * kw * (COVERAGE_INPUT - 12) ** 2;
    });
    const share = macs[6]! / macs.reduce((a, b) => a + b, 0);
    expect(share).toBeCloseTo(0.0211, 4);
    const bytes = encodeModel(model);
    const c = await int8Coverage(bytes);
    expect(c.int8MacShare).toBeCloseTo(1 - share, 12);
    expect(c.floatLayers).toEqual([{ name: '/net/net.12/ConvTranspose', op: 'ConvTranspose', macShare: expect.closeTo(share, 12), why: "no int8 kernel for ConvTranspose in ORT's CPU EP" }]);
    expect(coverageLine(c)).toBe('int8 coverage: 97.9% of MACs (6/7 convs), Q/DQ left: 2/4');

    // Through srq quantize (with the rewrite) nothing stays float.
    const out = join(work, 'waifu2x.onnx');
    const r = srq(['quantize', path, '-o', out, ...fast]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^int8 coverage: 100\.0% of MACs \(7\/7 convs\)/m);
  });
});

describe('--min-coverage', () => {
  // UPN1 (40.6% of the MACs) and UPN2 (7.3%) kept float, with UPN1's Relu so that nothing quantizes between them.
  const exclude = ['--exclude', 'UPN1,UPN1_Relu,UPN2'];

  it('fails static INT8 below the minimum (default 90%) with one line naming the float layers and why', () => {
    const out = join(work, 'gate.onnx');
    const r = quantize(out, ...exclude);
    expect(r.code).toBe(1);
    expect(expectOneLineError(r)).toBe(
      'srq: int8 coverage 52.1% of MACs is below the 90% minimum; float: UPN1 (Conv, 40.6%: left float by --exclude), UPN2 (Conv, 7.3%: left float by --exclude); nothing written (keep fewer layers float, or lower --min-coverage)',
    );
    expect(existsSync(out)).toBe(false);
    expect(expectOneLineError(quantize(out, ...exclude, '--min-coverage', '101'))).toMatch(/--min-coverage is a percentage of MACs \(0–100\), got "101"/);
  });

  it('passes at a lower minimum; layers the accuracy-aware search kept float are accepted, and it says so', async () => {
    const out = join(work, 'low.onnx');
    const r = quantize(out, ...exclude, '--min-coverage', '50');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^int8 coverage: 52\.1% of MACs \(10\/12 convs\), Q\/DQ left: 3\/4$/m);
    // The same float layers, now as the search's choice (the metadata srq quantize --max-drop writes).
    const model = decodeModel(readFileSync(out));
    model.metadataProps = model.metadataProps!.filter((p) => p.key !== 'srq.exclude');
    setMetadata(model, 'srq.float_nodes', 'UPN1,UPN1_Relu,UPN2');
    const searched = join(work, 'searched.onnx');
    writeFileSync(searched, encodeModel(model));
    const c = await int8Coverage(readFileSync(searched));
    expect(c.floatLayers.map((l) => l.why)).toEqual([SEARCH_WHY, SEARCH_WHY]);
    expect(checkCoverage(c, 90)).toEqual({
      passed: true,
      message: 'int8 coverage 52.1% of MACs is below the 90% minimum because the accuracy-aware search kept 2 layers float: UPN1 (Conv, 40.6%: kept float by the accuracy-aware search), UPN2 (Conv, 7.3%: kept float by the accuracy-aware search); accepted',
    });
    expect(srq(['info', searched, '--optimized']).stdout).toMatch(/^float {6}UPN1 \(Conv, 40\.6% of MACs\): kept float by the accuracy-aware search$/m);
  });
});

describe('int8 coverage in srq run (the Action job)', () => {
  it('reaches the validation report, its Markdown, the job summary and the manifest; below the minimum the variant fails', async () => {
    const out = join(work, 'run');
    const r = srq(['run', 'models/esrgan-slim-x2.onnx', '--out', out, '--eval', 'images/chelsea.png']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^int8-static: int8 coverage: 100\.0% of MACs \(12\/12 convs\), Q\/DQ left: 1\/1$/m);
    const coverage = { int8MacShare: 1, int8Layers: 12, layers: 12, quantizeNodes: 1, dequantizeNodes: 1 };
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { models: ManifestEntry[] };
    expect(manifest.models[0]!.metrics!.coverage).toEqual(coverage);
    const report = JSON.parse(readFileSync(join(out, 'reports', 'esrgan-slim-x2.report.json'), 'utf8')) as ValidationReport;
    expect(report.candidates[0]!.coverage).toMatchObject({ ...coverage, floatLayers: [], minimum: 90, passed: true });
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/\| speed vs FP32 \| int8 coverage \| result \|\n.*\n\| esrgan-slim-x2 \| int8-static \|.*\| 100\.0% \| ✅ pass \|/);
    expect(renderMarkdown(report)).toMatch(/\| int8 coverage \| result \|/);

    // The same report gated on a variant with UPN1 and UPN2 float (52.1%): it fails, says why, and is not published.
    const low = join(work, 'run-low.onnx');
    expect(srq(['quantize', 'models/esrgan-slim-x2.onnx', '-o', low, ...fast, '--exclude', 'UPN1,UPN1_Relu,UPN2', '--min-coverage', '0']).code).toBe(0);
    const message = gateCoverage(report, 0, await int8Coverage(readFileSync(low)), 90);
    expect(message).toMatch(/^int8 coverage \d+\.\d% of MACs is below the 90% minimum; float: UPN1 \(Conv, \d+\.\d%: left float by --exclude\), UPN2 /);
    expect(report.candidates[0]!.gate!.passed).toBe(false);
    expect(report.gate!.passed).toBe(false);
    expect(failureLines(report)).toEqual([`esrgan-slim-x2.int8.onnx: ${message}`]);
    const files = [{ quantization: 'int8-static' as const, file: 'x.onnx', sha256: '0', bytes: 1 }];
    expect(buildManifest([{ name: 'x', scale: 2, border: 0, overlap: 1, original: { path: 'x', sha256: '0', bytes: 1 }, gate: { metric: 'psnr-y', maxDrop: 0.1 }, report, files }]).models).toEqual([]);
  }, 300_000);
});

describe('min-coverage as an Action input and an srq run flag', () => {
  it('defaults to 90, takes a percentage, and names the input or flag when it is not one', () => {
    const set = (v: string) => { process.env['INPUT_MODELS'] = 'models/*.onnx'; process.env['INPUT_MIN-COVERAGE'] = v; };
    try {
      set('');
      expect(readInputs().job.minCoverage).toBe(90);
      set('97.5');
      expect(readInputs().job.minCoverage).toBe(97.5);
      set('120');
      expect(() => readInputs()).toThrow('input min-coverage must be a percentage from 0 to 100, got "120"');
    } finally {
      delete process.env['INPUT_MODELS'];
      delete process.env['INPUT_MIN-COVERAGE'];
    }
    const r = srq(['run', 'models/esrgan-slim-x2.onnx', '--min-coverage', 'most']);
    expect(r.code).toBe(2);
    expect(expectOneLineError(r)).toBe('srq: --min-coverage must be a percentage from 0 to 100, got "most"');
  });
});
