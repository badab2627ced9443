// The committed Action (node dist/index.js) run as a runner runs it, on a small workspace: outputs, job summary,
// manifest, annotations and exit codes for a passing and a failing gate; the cache and artifact services through a
// stand-in on 127.0.0.1 (a second run on unchanged models restores from the cache and quantizes nothing); without
// those services the Action says it skipped them and still succeeds; onnxruntime-web (wasm) from dist/ as well.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelManifest } from '../src-core/manifest.ts';
import { DataType, encodeModel, makeGraph, makeModel, makeNode, makeValueInfo } from '../src-core/onnx/index.ts';
import { parseManifest } from '../src-edge/manifest.ts';
import type { RunReport } from '../src-action/job/run-report.ts';
import { fastInputs, makeWorkspace, repoRoot, runAction } from './fixtures/action/runner.ts';
import { startServices, zipEntries, type Services } from './fixtures/action/services.ts';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

let root: string;
let services: Services;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'srq-action-'));
  services = await startServices();
});

afterAll(async () => {
  await services.close();
  rmSync(root, { recursive: true, force: true });
});

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

describe('the Action with cache and artifact services', () => {
  let workspace: string;
  let temp: string;
  const inputs = { ...fastInputs, variants: 'int8-static, fp16', 'memory-budget': '8' };

  beforeAll(() => {
    workspace = join(root, 'services-ws');
    temp = join(root, 'services-temp');
    makeWorkspace(workspace);
  });

  it('passes the gate, publishes the passing variants with a manifest, saves to the cache and uploads the artifact', async () => {
    const run = await runAction({ workspace, temp, inputs, env: services.env() });
    expect(run.code, run.log).toBe(0);
    expect(run.outputs['passed']).toBe('true');
    expect(run.outputs['report']).toBe('srq-out/report.json');
    expect(run.outputs['artifact-dir']).toBe('srq-out');
    expect(run.outputs['artifact-id']).toBe('1');
    expect(run.outputs['summary']).toMatch(/^2 of 2 variants passed the gate \(mean PSNR-Y drop ≤ 0\.15 dB\); 2 files published$/);

    // Log: one group per model, the cache miss and save, the work done.
    expect(run.log).toContain('::group::models/esrgan-slim-x2.onnx');
    expect(run.log).toMatch(/cache miss: srq-[\d.]+-esrgan-slim-x2-/);
    expect(run.log).toContain('int8-static: quantizing');
    // The memory plan within the memory-budget input, and each step's measured peak.
    expect(run.log).toMatch(/memory plan: calibration ≈ [\d.]+ GB, .*; memory budget 8\.00 GB/);
    expect(run.log).toMatch(/memory: plan [\d.]+ GB, .*; peak [\d.]+ GB of the 8\.00 GB budget/);
    expect(run.log).toMatch(/cache saved: srq-/);

    // Summary: the table row per model × variant with its mark, and where the HTML report is.
    expect(run.summary).toContain('## srq ✅ 2 of 2 variants passed');
    expect(run.summary).toMatch(/\| esrgan-slim-x2 \| int8-static \| [^|]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+× \| [\d.]+% \| ✅ pass \|/);
    expect(run.summary).toMatch(/\| esrgan-slim-x2 \| fp16 \| .* \| ✅ pass \|/);
    expect(run.summary).toContain('[`srq-models`](https://github.com/octo/models/actions/runs/42/artifacts/1)');
    expect(run.summary).toContain('reports/<model>.report.html');

    // Manifest: both variants, hashes of the files beside it, readable by the edge worker.
    const out = join(workspace, 'srq-out');
    const manifest = readJson<ModelManifest>(join(out, 'manifest.json'));
    expect(parseManifest(manifest, 'manifest.json').models).toHaveLength(2);
    expect(manifest.models.map((m) => [m.file, m.variant, m.host, m.quantization])).toEqual([
      ['esrgan-slim-x2.int8.onnx', 'int8', 'cpu', 'int8-static'],
      ['esrgan-slim-x2.fp16.onnx', 'fp16', 'gpu', 'fp16'],
    ]);
    for (const m of manifest.models) {
      const bytes = readFileSync(join(out, m.file));
      expect(m.sha256).toBe(sha256(bytes));
      expect(m.bytes).toBe(bytes.length);
      expect(m.scale).toBe(2);
      expect(m.metrics!.drop).toBeLessThanOrEqual(0.15);
      expect(m.original!.path).toBe('models/esrgan-slim-x2.onnx');
    }
    // The served INT8 file's onnxruntime-node memory, measured by dist/native-memory-task.node.js on the addon the
    // Action unpacked: about what the embedded esrgan-slim-x2 INT8 file measures (1680 B a px).
    const embedded = parseManifest(readJson(join(repoRoot, 'src-edge', 'models', 'manifest.json')), 'embedded').models.find((e) => e.name === 'esrgan-slim-x2' && e.variant === 'int8')!;
    expect(run.log).toMatch(/int8-static: onnxruntime-node memory [\d.]+ MB \+ \d+ B per window px \(the edge sizes native windows from it\)/);
    const native = manifest.models[0]!.nativeMemory!;
    expect(native.bytesPerPixel / embedded.nativeMemory!.bytesPerPixel).toBeGreaterThan(0.85);
    expect(native.bytesPerPixel / embedded.nativeMemory!.bytesPerPixel).toBeLessThan(1.15);
    expect(manifest.models[1]!.nativeMemory).toBeUndefined();

    // Services: one cache entry saved; one artifact holding the output folder.
    expect(services.twirpCalls('CreateCacheEntry')).toHaveLength(1);
    expect(services.cache.size).toBe(1);
    // The key names this build: the running dist/index.js's hash and the shipped ONNX Runtime.
    const build = `-ort${readJson<{ onnxruntime: string }>(join(repoRoot, 'dist', 'ort', 'assets.json')).onnxruntime}-${sha256(readFileSync(join(repoRoot, 'dist', 'index.js'))).slice(0, 12)}`;
    expect([...services.cache.keys()]).toEqual([expect.stringMatching(new RegExp(`^srq-[\\d.]+-esrgan-slim-x2-\\w{16}-\\w{16}${build}$`))]);
    expect(run.log).toContain(`cache keys end in ${build}`);
    const zip = services.artifacts.get('srq-models')!;
    expect(zipEntries(zip).sort()).toEqual([
      'esrgan-slim-x2.fp16.onnx', 'esrgan-slim-x2.int8.onnx', 'manifest.json', 'report.json',
      'reports/esrgan-slim-x2.report.html', 'reports/esrgan-slim-x2.report.json', 'reports/esrgan-slim-x2.report.md', 'summary.md',
    ]);
  });

  it('restores unchanged models from the cache on the next run and quantizes nothing', async () => {
    const before = readFileSync(join(workspace, 'srq-out', 'manifest.json'), 'utf8');
    services.artifacts.clear();
    const creates = services.twirpCalls('CreateCacheEntry').length;
    const run = await runAction({ workspace, temp, inputs, env: services.env() });
    expect(run.code, run.log).toBe(0);
    expect(run.log).toMatch(/cache hit: srq-[\d.]+-esrgan-slim-x2-\w+-\w+ restored; no quantization or validation/);
    expect(run.log).not.toContain('quantizing');
    expect(run.log).not.toMatch(/calibration (min\/max|histograms)/);
    expect(run.log).not.toContain('validating');
    expect(services.twirpCalls('CreateCacheEntry')).toHaveLength(creates);
    const report = readJson<RunReport>(join(workspace, 'srq-out', 'report.json'));
    expect(report.models.map((m) => m.cache)).toEqual(['hit']);
    expect(run.summary).toContain('**Restored from the cache** (no quantization or validation): esrgan-slim-x2.');
    expect(run.outputs['summary']).toContain('1 of 1 models restored from the cache');
    // The same files as the first run, published again.
    const after = readJson<ModelManifest>(join(workspace, 'srq-out', 'manifest.json'));
    expect(after.models.map((m) => m.sha256)).toEqual((JSON.parse(before) as ModelManifest).models.map((m) => m.sha256));
    expect(services.artifacts.has('srq-models')).toBe(true);
  });
});

describe('the Action without runner services', () => {
  let workspace: string;
  let temp: string;
  const failing = { ...fastInputs, variants: 'int8-dynamic', 'max-drop': '0.001' };

  beforeAll(() => {
    workspace = join(root, 'plain-ws');
    temp = join(root, 'plain-temp');
    makeWorkspace(workspace);
  });

  it('fails a variant over budget: exit 1, one sentence, an error annotation on the model file, nothing published', async () => {
    const run = await runAction({ workspace, temp, inputs: failing });
    expect(run.code).toBe(1);
    expect(run.outputs['passed']).toBe('false');
    expect(run.log).toContain('cache service not available');
    expect(run.log).toContain('artifact service not available');
    expect(run.log).toMatch(/::error title=srq quality gate,file=models\/esrgan-slim-x2\.onnx::srq quality gate failed: esrgan-slim-x2\.int8-dynamic\.onnx: mean over all images PSNR-Y drop [\d.]+ dB > 0\.001 dB/);
    const failures = run.log.split('\n').filter((l) => l.startsWith('::error::'));
    expect(failures).toEqual([expect.stringMatching(/^::error::srq: 1 of 1 variants failed the gate \(mean PSNR-Y drop ≤ 0\.001 dB\): esrgan-slim-x2 int8-dynamic; 0 files published$/)]);
    expect(run.summary).toContain('## srq ❌ 1 of 1 variants failed the quality gate');
    expect(run.summary).toMatch(/\| esrgan-slim-x2 \| int8-dynamic \| .* \| ❌ fail \|/);
    const out = join(workspace, 'srq-out');
    expect(readJson<ModelManifest>(join(out, 'manifest.json')).models).toEqual([]);
    expect(readdirSync(out).filter((f) => f.endsWith('.onnx'))).toEqual([]);
    expect(existsSync(join(out, 'reports', 'esrgan-slim-x2.report.html'))).toBe(true);
  });

  it('reports the failure but passes the step with fail-on-gate: false', async () => {
    const run = await runAction({ workspace, temp, inputs: { ...failing, 'fail-on-gate': 'false' } });
    expect(run.code, run.log).toBe(0);
    expect(run.outputs['passed']).toBe('false');
    expect(run.log).toMatch(/::warning::srq: 1 of 1 variants failed the gate .*fail-on-gate is false/);
  });

  it('runs on onnxruntime-web (wasm) unpacked from dist/', async () => {
    const run = await runAction({ workspace, temp, inputs: { ...fastInputs, runtime: 'web' } });
    expect(run.code, run.log).toBe(0);
    expect(run.log).toMatch(/onnxruntime-web [\d.]+ \(wasm, \d threads\) ready/);
    expect(run.log).not.toMatch(/onnxruntime-node [\d.]+ \([\w-]+\) ready/);
    expect(run.summary).toContain('onnxruntime-web (wasm)');
    expect(readJson<ModelManifest>(join(workspace, 'srq-out', 'manifest.json')).models[0]!.metrics!.runtime).toBe('web');
    // The served form's equality check runs on the job's own wasm threads (a second thread count would be refused).
    expect(run.log).toMatch(/int8-static: row strips \(UPN1 in 4\) for onnxruntime-web's memory: \d+ B per window px → \d+ B per window px, output byte-equal/);
    expect(readJson<ModelManifest>(join(workspace, 'srq-out', 'manifest.json')).models[0]!.memory).toBeDefined();
    // onnxruntime-node's memory needs the native runtime: the edge sizes native windows from the wasm measure.
    expect(run.log).toContain("int8-static: onnxruntime-node's memory not measured (this run uses wasm); the edge sizes native windows from the wasm measure");
    expect(readJson<ModelManifest>(join(workspace, 'srq-out', 'manifest.json')).models[0]!.nativeMemory).toBeUndefined();
  });

  it('fails with one sentence naming a bad input', async () => {
    const run = await runAction({ workspace, temp, inputs: { ...fastInputs, variants: 'int4' } });
    expect(run.code).toBe(1);
    expect(run.log.split('\n').filter((l) => l.startsWith('::error::'))).toEqual(['::error::srq: input variants: unknown variant "int4"; use int8-static, int8-dynamic, fp16']);
    // The job summary still says what failed, for the models asked for.
    expect(run.summary).toContain('## srq ❌ the job failed');
    expect(run.summary).toContain('| models/*.onnx | ❌ input variants: unknown variant "int4"; use int8-static, int8-dynamic, fp16 |');
  });
});

describe('the Action with models that cannot be run', () => {
  it('gives each its own row in the job summary with what failed, annotates it, runs the others and fails the step', async () => {
    const workspace = join(root, 'broken-ws');
    makeWorkspace(workspace);
    // Not ONNX at all (half a file), and a readable FP32 graph that is no super-resolution model.
    const good = readFileSync(join(workspace, 'models', 'esrgan-slim-x2.onnx'));
    writeFileSync(join(workspace, 'models', 'cut.onnx'), good.subarray(0, good.length >> 1));
    writeFileSync(join(workspace, 'models', 'sum.onnx'), encodeModel(makeModel(makeGraph({
      name: 'sum',
      nodes: [makeNode('Add', ['x', 'y'], ['z'])],
      inputs: [makeValueInfo('x', DataType.FLOAT, [1, 3, 'h', 'w']), makeValueInfo('y', DataType.FLOAT, [1, 3, 'h', 'w'])],
      outputs: [makeValueInfo('z', DataType.FLOAT, [1, 3, 'h', 'w'])],
    }))));
    const run = await runAction({ workspace, temp: join(root, 'broken-temp'), inputs: fastInputs });
    expect(run.code, run.log).toBe(1);
    expect(run.outputs['passed']).toBe('false');

    const report = readJson<RunReport>(join(workspace, 'srq-out', 'report.json'));
    expect(report.passed).toBe(false);
    expect(report.models.map((m) => [m.name, m.passed])).toEqual([['esrgan-slim-x2', true]]);
    expect(report.errors.map((e) => e.path)).toEqual(['models/cut.onnx', 'models/sum.onnx']);
    expect(report.errors[0]!.error).toMatch(/not a readable ONNX model/);
    expect(report.summary).toMatch(/^2 of 3 models could not be run \(cut, sum\); 1 of 1 variants passed the gate/);

    expect(run.summary).toContain('## srq ❌ 2 of 3 models could not be run');
    expect(run.summary).toMatch(/\| esrgan-slim-x2 \| int8-static \| .* \| ✅ pass \|/);
    for (const e of report.errors) {
      expect(run.summary).toContain(`| ${e.name} | — |  |  |  |  |  |  |  | ❌ error: ${e.error.replace(/\|/g, '\\|')} |`);
      expect(run.log).toContain(`::error title=srq,file=${e.path}::srq could not run ${e.path}: `);
    }
    expect(run.log).toMatch(/::error::srq: 2 of 3 models could not be run \(cut, sum\)/);
    // The model that ran is published as usual.
    expect(readJson<ModelManifest>(join(workspace, 'srq-out', 'manifest.json')).models.map((m) => m.name)).toEqual(['esrgan-slim-x2']);
  });
});

describe('the Action on third-party exports, with no scale input', () => {
  it('measures every corpus model (a waifu2x-style one loses a border) and publishes its variants with those facts', async () => {
    const workspace = join(root, 'corpus-ws');
    makeWorkspace(workspace, []);
    const corpus = readJson<{ models: { file: string; scale: number; border: number }[] }>(join(repoRoot, 'test/fixtures/corpus/corpus.json')).models;
    for (const m of corpus) copyFileSync(join(repoRoot, 'test/fixtures/corpus', m.file), join(workspace, 'models', m.file));
    const run = await runAction({ workspace, temp: join(root, 'corpus-temp'), inputs: { ...fastInputs, variants: 'int8-static, fp16', 'max-drop': '2' } });
    expect(run.code, run.log).toBe(0);
    expect(run.log).toMatch(/×2, border 14 px \(out = 2·in − 28\)/);
    const manifest = readJson<ModelManifest>(join(workspace, 'srq-out', 'manifest.json'));
    for (const m of corpus) {
      const name = m.file.replace(/\.onnx$/, '');
      const entries = manifest.models.filter((e) => e.name === name);
      expect(entries.map((e) => [e.variant, e.scale, e.border ?? 0]), name).toEqual([['int8', m.scale, m.border], ['fp16', m.scale, m.border]]);
    }
    expect(parseManifest(manifest, 'srq-out/manifest.json').models.find((e) => e.name === 'waifu2x-upconv7-x2')!.border).toBe(14);
  }, 600_000);
});
