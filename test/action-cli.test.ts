// `srq run`: the Action's job from the command line (the same implementation): files written, exit codes for a
// passing and a failing gate, --base, and the refusals (no model, a file it did not write, a bad flag), each as one
// line with exit code 2.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../src-action/job/run-report.ts';
import type { ModelManifest } from '../src-core/manifest.ts';
import { decodeModel, getMetadata } from '../src-core/onnx/model.ts';
import { makeWorkspace } from './fixtures/action/runner.ts';
import { expectOneLineError, srq } from './helpers/cli.ts';

const fast = ['--calib', 'calib', '--eval', 'photos', '--calib-method', 'minmax', '--tile', '64'];
let ws: string;

beforeAll(() => {
  ws = mkdtempSync(join(tmpdir(), 'srq-run-'));
  makeWorkspace(ws);
});

afterAll(() => rmSync(ws, { recursive: true, force: true }));

describe('srq run on third-party exports, with no scale given', () => {
  it('measures each model (a waifu2x-style model loses a border), validates it, and publishes what passes', () => {
    const dir = join(ws, 'corpus');
    mkdirSync(join(dir, 'models'), { recursive: true });
    for (const f of ['waifu2x-upconv7-x2.onnx', 'srvgg-x2-interp-size.onnx']) copyFileSync(join('test/fixtures/corpus', f), join(dir, 'models', f));
    const r = srq(['run', 'models/*.onnx', '--calib', '../calib', '--eval', '../photos', '--calib-method', 'minmax', '--tile', '64', '--variants', 'int8-static,fp16', '--max-drop', '1', '--out', 'out'], { cwd: dir });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/×2, border 14 px \(out = 2·in − 28\)/);
    expect(r.stdout).toMatch(/×2, border 0 px \(out = 2·in\)/);
    const manifest = JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8')) as ModelManifest;
    const waifu = manifest.models.filter((m) => m.name === 'waifu2x-upconv7-x2');
    expect(waifu.map((m) => m.variant).sort()).toEqual(['fp16', 'int8']);
    for (const m of waifu) expect([m.scale, m.border, m.overlap]).toEqual([2, 14, 7]);
    expect(manifest.models.find((m) => m.name === 'srvgg-x2-interp-size')).toMatchObject({ scale: 2, overlap: 10 });
  });

  it('runs PReLUs as pair convs on onnxruntime-node, and keeps them whole before keeping layers float', () => {
    // srvgg ×2 on these photos (measured): pair convs 54.251 dB fidelity (round 1), whole 54.429 (from round 1's ranges
    // and weights). A 54.35 dB minimum falls between them, 54.1 below both.
    const run = (minFidelity: string) => {
      const dir = join(ws, `prelu-${minFidelity}`);
      mkdirSync(join(dir, 'models'), { recursive: true });
      copyFileSync('test/fixtures/corpus/srvgg-x2-interp-size.onnx', join(dir, 'models', 'srvgg-x2-interp-size.onnx'));
      const r = srq(['run', 'models/*.onnx', '--calib', '../calib', '--eval', '../photos', '--calib-method', 'minmax', '--tile', '64', '--min-fidelity', minFidelity, '--out', 'out'], { cwd: dir });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).not.toMatch(/searching for layers to keep float/);
      const report = JSON.parse(readFileSync(join(dir, 'out', 'report.json'), 'utf8')) as RunReport;
      const model = decodeModel(readFileSync(join(dir, 'out', 'srvgg-x2-interp-size.int8.onnx')));
      const metrics = (JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8')) as ModelManifest).models[0]!.metrics!;
      expect(metrics.coverage!.int8MacShare).toBe(1);
      return { stdout: r.stdout, note: report.models[0]!.variants[0]!.note, model, fidelity: metrics.fidelity };
    };
    const pair = run('54.1');
    expect(pair.stdout).not.toMatch(/misses the gate/);
    expect(pair.fidelity).toBeCloseTo(54.25, 1);
    expect(getMetadata(pair.model, 'srq.prelu')).toBe('pair-conv');
    expect(pair.model.graph!.node!.filter((n) => n.opType === 'PRelu')).toHaveLength(0);

    const whole = run('54.35');
    expect(whole.stdout).toMatch(/^int8-static misses the gate \(mean fidelity ≥ 54\.35 dB\): trying its 7 PReLUs whole \(DQ → PRelu → Q\) before keeping layers float$/m);
    expect(whole.stdout).toMatch(/^7 PReLUs whole \(DQ → PRelu → Q\): fidelity 54\.2\d\d → 54\.4\d\d, within the gate$/m);
    expect(whole.note).toMatch(/^7 PReLUs whole \(DQ → PRelu → Q\) \(every conv int8\): fidelity 54\.2\d\d → 54\.4\d\d on the evaluation photos, within the gate/);
    expect(getMetadata(whole.model, 'srq.prelu')).toBe('whole');
    expect(whole.model.graph!.node!.filter((n) => n.opType === 'PRelu')).toHaveLength(7);
  });
});

describe('srq run', () => {
  it('writes the passing variants, manifest.json, the reports and a summary, and exits 0', () => {
    // Budget 0.15 dB: these two synthetic photos put min/max INT8 at 0.109 dB held out (measured), a job-mechanics
    // test should not sit on the default 0.1's edge.
    const r = srq(['run', 'models/*.onnx', ...fast, '--variants', 'int8-static,fp16', '--max-drop', '0.15', '--out', 'out'], { cwd: ws });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('pass  esrgan-slim-x2  int8-static -> out/esrgan-slim-x2.int8.onnx');
    expect(r.stdout).toContain('pass  esrgan-slim-x2  fp16 -> out/esrgan-slim-x2.fp16.onnx');
    expect(r.stdout).toMatch(/2 of 2 variants passed the gate \(mean PSNR-Y drop ≤ 0\.15 dB\); 2 files published\n$/);
    // The time plan comes before any work, with each step's estimate and the default budget.
    expect(r.stdout).toMatch(/^time plan: calibration ≈ \d+:\d\d, GPTQ ≈ \d+:\d\d, bias correction ≈ \d+:\d\d, validation ≈ \d+:\d\d \(≈ \d+:\d\d in all; fallback search, if static INT8 misses the budget, ≈ \d+:\d\d more\); time budget 60 min$/m);
    expect(r.stdout.indexOf('time plan:')).toBeLessThan(r.stdout.indexOf('int8-static: quantizing'));
    // So does the memory plan, with the default budget (90% of this machine's memory); each step's measured peak
    // comes at the end of the model.
    expect(r.stdout).toMatch(/^memory plan: calibration ≈ [\d.]+ GB, bias correction ≈ [\d.]+ GB, validation ≈ [\d.]+ GB, fallback search ≈ [\d.]+ GB, coverage ≈ [\d.]+ GB \(peak ≈ [\d.]+ GB; then the edge's memory measures, within what the budget leaves\); memory budget [\d.]+ GB$/m);
    expect(r.stdout.indexOf('memory plan:')).toBeLessThan(r.stdout.indexOf('int8-static: quantizing'));
    expect(r.stdout).toMatch(/^memory: plan [\d.]+ GB, int8-static [\d.]+ GB, calibration [\d.]+ GB, bias correction [\d.]+ GB, fp16 [\d.]+ GB, validation [\d.]+ GB, coverage [\d.]+ GB, wasm memory [\d.]+ GB, native memory [\d.]+ GB; peak [\d.]+ GB of the [\d.]+ GB budget$/m);
    expect(readdirSync(join(ws, 'out')).sort()).toEqual(['esrgan-slim-x2.fp16.onnx', 'esrgan-slim-x2.int8.onnx', 'manifest.json', 'report.json', 'reports', 'summary.md']);
    const manifest = JSON.parse(readFileSync(join(ws, 'out', 'manifest.json'), 'utf8')) as ModelManifest;
    expect(manifest.models.map((m) => m.file)).toEqual(['esrgan-slim-x2.int8.onnx', 'esrgan-slim-x2.fp16.onnx']);
    // The INT8 file's wasm memory, as the edge sizes its windows from it: the embedded slim ×2 file's, within 10%
    // (same architecture; measured the same way).
    const embedded = JSON.parse(readFileSync('src-edge/models/manifest.json', 'utf8')) as ModelManifest;
    const reference = embedded.models.find((m) => m.file === 'esrgan-slim-x2.int8.onnx')!.memory!;
    const memory = manifest.models[0]!.memory!;
    expect(Math.abs(memory.bytesPerPixel - reference.bytesPerPixel) / reference.bytesPerPixel).toBeLessThan(0.1);
    expect(manifest.models[1]!.memory).toBeUndefined();
    expect(r.stdout).toMatch(/^int8-static: wasm memory [\d.]+ MB \+ \d+ B per window px \(the edge sizes its windows from it\)$/m);
    // And its onnxruntime-node memory, which the edge's Node and Deno entries size their windows from: within 10% too.
    const native = manifest.models[0]!.nativeMemory!;
    const nativeReference = embedded.models.find((m) => m.file === 'esrgan-slim-x2.int8.onnx')!.nativeMemory!;
    expect(Math.abs(native.bytesPerPixel - nativeReference.bytesPerPixel) / nativeReference.bytesPerPixel).toBeLessThan(0.1);
    expect(r.stdout).toMatch(/^int8-static: onnxruntime-node memory [\d.]+ MB \+ \d+ B per window px \(the edge sizes native windows from it\)$/m);
    // Its 5×5 upsampling conv in row strips: about half the wasm memory a window px (measured 2004 → 1044).
    const strips = /^int8-static: row strips \(UPN1 in 4\) for onnxruntime-web's memory: (\d+) B per window px → (\d+) B per window px, output byte-equal$/m.exec(r.stdout);
    expect(Number(strips![2]) / Number(strips![1])).toBeLessThan(0.65);
    expect(getMetadata(decodeModel(readFileSync(join(ws, 'out', 'esrgan-slim-x2.int8.onnx'))), 'srq.row_strips')).toBe('UPN1:4');
    const report = JSON.parse(readFileSync(join(ws, 'out', 'report.json'), 'utf8')) as RunReport;
    expect(report).toMatchObject({ schema: 'srq.run/1', passed: true, base: null, models: [{ name: 'esrgan-slim-x2', cache: 'off' }] });
    expect(readFileSync(join(ws, 'out', 'summary.md'), 'utf8')).toContain('| esrgan-slim-x2 | fp16 |');
    // On these photos slim ×2 scores below bicubic (FP32 34.91 vs 35.21 dB PSNR-Y, measured): a drop gate says
    // little there, and the run says so, with the fix.
    const warning = /FP32 scores below bicubic against the ground truth \(PSNR-Y 3\d\.\d\d vs 3\d\.\d\d dB\), so a drop says little about what quantization broke: gate it on fidelity/;
    expect(r.stdout + r.stderr).toMatch(warning);
    expect(readFileSync(join(ws, 'out', 'summary.md'), 'utf8')).toMatch(new RegExp(`\\*\\*⚠️ Warnings:\\*\\*\n\n- esrgan-slim-x2: ${warning.source}`));
  });

  it('gates on fidelity with --min-fidelity: the search aims at it, and the manifest and reports record it', () => {
    // Min/max INT8 without bias correction and GPTQ: all-int8 fidelity 48.7 dB held out (measured); three layers
    // float give 50.1 dB there, over a 49.5 dB minimum.
    const r = srq(['run', 'models/*.onnx', ...fast, '--no-bias-correction', '--no-gptq', '--min-fidelity', '49.5', '--out', 'fidelity'], { cwd: ws });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/int8-static misses the gate \(mean fidelity ≥ 49\.5 dB\): searching for layers to keep float/);
    expect(r.stdout).toMatch(/1 of 1 variants passed the gate \(mean fidelity ≥ 49\.5 dB\); 1 file published\n$/);
    expect(r.stdout + r.stderr).not.toMatch(/FP32 scores below bicubic/);
    const report = JSON.parse(readFileSync(join(ws, 'fidelity', 'report.json'), 'utf8')) as RunReport;
    expect(report.options).toMatchObject({ metric: 'fidelity', minFidelity: 49.5 });
    expect(report.options).not.toHaveProperty('maxDrop');
    const variant = report.models[0]!.variants[0]!;
    expect(variant.note).toMatch(/^kept \d+ of 19 layers float \(.+\): fidelity [\d.]+ dB ≥ [\d.]+ dB on the search photos \(the aim for 49\.5 dB on the held-out photos; PSNR-Y drop there -?[\d.]+ dB\)/);
    const model = decodeModel(readFileSync(join(ws, 'fidelity', variant.file)));
    expect(getMetadata(model, 'srq.min_fidelity')).toMatch(/^49\.5 dB \(measured 4\d\.\d\d\)$/);
    const metrics = (JSON.parse(readFileSync(join(ws, 'fidelity', 'manifest.json'), 'utf8')) as ModelManifest).models[0]!.metrics!;
    expect(metrics).toMatchObject({ metric: 'fidelity', minFidelity: 49.5 });
    expect(metrics.fidelity).toBeGreaterThanOrEqual(49.5);
    const summary = readFileSync(join(ws, 'fidelity', 'summary.md'), 'utf8');
    expect(summary).toContain('Gate: mean fidelity ≥ 49.5 dB vs FP32');
    expect(summary).not.toContain('FP32 scores below bicubic');
  });

  it('keeps the most harmful layers float when static INT8 misses the budget (accuracy-aware), then publishes it', () => {
    // Without bias correction and GPTQ, min/max INT8 misses a 0.09 dB budget: measured all-int8 0.099 dB held out (0.087 on
    // the search photos); the search keeps 3 of 19 layers float, 0.083 dB held out. These two synthetic photos score
    // drops that do not follow fidelity closely: at 0.07 even 4 layers float (51.8 dB fidelity) gave 0.078 held out.
    const r = srq(['run', 'models/*.onnx', ...fast, '--no-bias-correction', '--no-gptq', '--max-drop', '0.09', '--out', 'aware'], { cwd: ws });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/int8-static misses the gate \(mean PSNR-Y drop ≤ 0\.09 dB\): searching for layers to keep float/);
    // The job knows round 1's held-out drop: the search aims at the fidelity gain that drop needs.
    expect(r.stdout).toMatch(/round 1: all \d+ layers int8; PSNR-Y drop -?[\d.]+ dB \(worst image -?[\d.]+\); fidelity [\d.]+ dB < [\d.]+ dB \(the aim\)/);
    const report = JSON.parse(readFileSync(join(ws, 'aware', 'report.json'), 'utf8')) as RunReport;
    const variant = report.models[0]!.variants[0]!;
    expect(variant).toMatchObject({ quantization: 'int8-static', passed: true, published: true });
    expect(variant.note).toMatch(/^kept \d+ of \d+ layers float \(.+\): fidelity [\d.]+ dB ≥ [\d.]+ dB on the search photos \(the gain round 1's held-out drop needs to fit 0\.090 dB; PSNR-Y drop there -?[\d.]+ dB\); \d+ validation rounds after \d+ simulated$/);
    const model = decodeModel(readFileSync(join(ws, 'aware', variant.file)));
    expect(getMetadata(model, 'srq.float_nodes')).toMatch(/\w/);
    const manifest = JSON.parse(readFileSync(join(ws, 'aware', 'manifest.json'), 'utf8')) as ModelManifest;
    expect(manifest.models[0]!.metrics!.drop).toBeLessThanOrEqual(0.09);
    expect(readFileSync(join(ws, 'aware', 'summary.md'), 'utf8')).toContain('**Accuracy-aware INT8:**');
  });

  it('exits 1 when a variant misses the budget, and leaves no file of it', () => {
    const r = srq(['run', 'models/*.onnx', ...fast, '--variants', 'int8-dynamic', '--max-drop', '0.001', '--out', 'out'], { cwd: ws });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL  esrgan-slim-x2  int8-dynamic');
    // The previous run's files were srq's own: replaced, and the stale variants are gone.
    expect(readdirSync(join(ws, 'out')).filter((f) => f.endsWith('.onnx'))).toEqual([]);
  });

  it('runs the other models when one cannot be read, names it with what failed, and exits 1', () => {
    const broken = mkdtempSync(join(tmpdir(), 'srq-run-broken-'));
    try {
      makeWorkspace(broken);
      const good = readFileSync(join(broken, 'models', 'esrgan-slim-x2.onnx'));
      writeFileSync(join(broken, 'models', 'cut.onnx'), good.subarray(0, good.length >> 1));
      const r = srq(['run', 'models/*.onnx', ...fast, '--max-drop', '0.15', '--out', 'out'], { cwd: broken });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toContain('pass  esrgan-slim-x2  int8-static -> out/esrgan-slim-x2.int8.onnx');
      expect(r.stdout).toMatch(/^ERROR cut {2}could not be run: .*not a readable ONNX model/m);
      expect(r.stderr).toMatch(/^warning: models\/cut\.onnx could not be run: /m);
      const report = JSON.parse(readFileSync(join(broken, 'out', 'report.json'), 'utf8')) as RunReport;
      expect(report.passed).toBe(false);
      expect(report.errors.map((e) => e.path)).toEqual(['models/cut.onnx']);
      expect(readFileSync(join(broken, 'out', 'summary.md'), 'utf8')).toMatch(/^\| cut \| — \|.*\| ❌ error: .*not a readable ONNX model/m);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it('with --base runs only the models changed since that revision', () => {
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=srq', '-c', 'user.email=srq@example.com', ...args], { cwd: ws, stdio: 'pipe' });
    git('init', '-q');
    git('add', 'models', 'photos', 'calib');
    git('commit', '-q', '-m', 'base');
    writeFileSync(join(ws, 'models', 'new-x2.onnx'), readFileSync(join(ws, 'models', 'esrgan-slim-x2.onnx')));
    const r = srq(['run', 'models/*.onnx', ...fast, '--variants', 'fp16', '--base', 'HEAD', '--out', 'changed'], { cwd: ws });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 of 2 models changed since HEAD');
    const report = JSON.parse(readFileSync(join(ws, 'changed', 'report.json'), 'utf8')) as RunReport;
    expect(report.models.map((m) => [m.path, m.base])).toEqual([['models/new-x2.onnx', 'new']]);
  });

  it('refuses a model whose memory plan does not fit --memory-budget before any work, with what it needs, and exits 1', () => {
    // Node, ORT and the photos alone take more than 0.1 GB.
    const r = srq(['run', 'models/esrgan-slim-x2.onnx', ...fast, '--memory-budget', '0.1', '--out', 'tight'], { cwd: ws });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^ERROR esrgan-slim-x2 {2}could not be run: models\/esrgan-slim-x2\.onnx needs ≈ [\d.]+ GB of memory on this runner \(calibration ≈ [\d.]+ GB, .*\), over its 0\.10 GB memory budget; set memory-budget to [\d.]+ or more, or use a runner with more memory$/m);
    expect(r.stdout).not.toContain('int8-static: quantizing');
    expect(readdirSync(join(ws, 'tight')).filter((f) => f.endsWith('.onnx'))).toEqual([]);
  });

  it('never writes over a file it did not write', () => {
    mkdirSync(join(ws, 'mine'), { recursive: true });
    writeFileSync(join(ws, 'mine', 'esrgan-slim-x2.int8.onnx'), 'my own file');
    const r = srq(['run', 'models/esrgan-slim-x2.onnx', ...fast, '--out', 'mine'], { cwd: ws });
    expect(expectOneLineError(r)).toMatch(/^srq: .*mine\/esrgan-slim-x2\.int8\.onnx exists and was not written by srq run; choose another output folder$/);
    expect(r.code).toBe(2);
    expect(readFileSync(join(ws, 'mine', 'esrgan-slim-x2.int8.onnx'), 'utf8')).toBe('my own file');
    expect(existsSync(join(ws, 'mine', 'manifest.json'))).toBe(false);
  });

  it.each([
    [['run', 'nothing/*.onnx'], /^srq: no \.onnx file matches nothing\/\*\.onnx in .*; check the models glob$/],
    [['run', 'models/*.onnx', '--variants', 'int4'], /^srq: --variants: unknown variant "int4"; use int8-static, int8-dynamic, fp16$/],
    [['run', 'models/*.onnx', '--max-drop', 'lots'], /^srq: --max-drop must be a number ≥ 0, got "lots"$/],
    [['run', 'models/*.onnx', '--memory-budget', '0'], /^srq: --memory-budget must be a number > 0, got "0"$/],
    [['run', 'models/*.onnx', '--min-fidelity', '40', '--max-drop', '0.1'], /^srq: a fidelity gate is a minimum, not a drop: give --min-fidelity <dB> without --max-drop$/],
    [['run', 'models/*.onnx', '--metric', 'fidelity'], /^srq: --metric fidelity needs --min-fidelity <dB>: the least mean PSNR of the variant's output against FP32's \(e\.g\. 40\)$/],
    [['run', 'models/*.onnx', '--base', 'no-such-rev'], /^srq: base revision no-such-rev not found in the git checkout at .*; pass a branch, tag or commit that exists$/],
    [['run'], /^srq: run needs one or more model files or globs/],
  ])('refuses %j with one line and exit 2', (args, message) => {
    const r = srq(args, { cwd: ws });
    expect(r.code).toBe(2);
    expect(expectOneLineError(r)).toMatch(message);
  });
});
