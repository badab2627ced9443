// The whole job, shared by `srq run` and the GitHub Action: find the FP32 models (only those changed since a base
// revision, when given), restore each model's result from the cache or compute it (variants, validation, gate),
// compare with the base revision's version, and write the passing variants, manifest.json, the reports and a
// summary into the output folder. Node-only; GitHub I/O stays in the Action's wrapper.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { listImageFiles, readImages, sharedImages, type NamedImage } from '../../src-core/image/image-files.node.ts';
import type { RasterImage } from '../../src-core/image/raster.ts';
import { buildManifest, type ModelManifest } from '../../src-core/manifest.ts';
import { summarizeModel } from '../../src-core/onnx/inspect.ts';
import { readModelFile } from '../../src-core/onnx/model-file.ts';
import { decodeModel } from '../../src-core/onnx/model.ts';
import { builtInPhotos, type PhotoSet } from '../../src-core/package-root.node.ts';
import { searchPhotos } from '../../src-core/validate/accuracy-aware.ts';
import { cutCalibrationTiles } from '../../src-core/quantize/calibration-tiles.ts';
import { SRQ_VERSION } from '../../src-core/version.ts';
import { cacheKey, type JobCache } from './cache.ts';
import { changedPaths, fileAtCommit, resolveBase, type BaseRevision } from './git.ts';
import type { JobLog } from './log.ts';
import { matchModelPaths, readModelFiles, sha256Hex } from './model-files.ts';
import { runModelJob, VARIANT_SUFFIX, type ModelJobContext, type ModelJobInput } from './model-job.ts';
import { CALIBRATION_SEED, CALIBRATION_TILES, JobInputError, type JobOptions } from './options.ts';
import { outcomePassed, readOutcome, toValidatedModel, type ModelOutcome } from './outcome.ts';
import { RUN_SCHEMA, type RunError, type RunModel, type RunReport } from './run-report.ts';
import { renderRunSummary, summaryLine } from './summary.ts';

export interface RunDeps {
  log: JobLog;
  /** Absent: every model is computed. */
  cache?: JobCache;
  /** Parent of the per-model work folders, which are the cache's paths: keep it the same across runs. */
  workDir: string;
}

export interface ModelRun {
  outcome: ModelOutcome;
  cache: RunModel['cache'];
  /** With a base: the model at the base revision, 'new' when absent there, null when it could not be run. */
  base?: ModelOutcome | 'new' | null;
}

export interface RunResult {
  passed: boolean;
  options: JobOptions;
  outDir: string;
  reportPath: string;
  manifestPath: string;
  summaryPath: string;
  report: RunReport;
  manifest: ModelManifest;
  models: ModelRun[];
  /** Models that could not be run (an unreadable file, a failure while quantizing or validating): each fails the run. */
  errors: RunError[];
}

const MANIFEST = 'manifest.json';
const REPORT = 'report.json';
const SUMMARY = 'summary.md';
const REPORTS_DIR = 'reports';

export async function runJob(opts: JobOptions, deps: RunDeps): Promise<RunResult> {
  const { log } = deps;
  const workspace = resolve(opts.workspace);
  const outDir = resolve(workspace, opts.outDir);
  const matched = matchModelPaths(workspace, opts.models, outDir);
  if (matched.length === 0) throw new JobInputError(`no .onnx file matches ${opts.models.join(', ')} in ${workspace}; check the models glob`);

  const base = opts.base ? findBase(workspace, opts, log) : undefined;
  let selected = matched;
  if (base) {
    const changed = changedPaths(workspace, base.commit);
    const changedModels = matched.filter((p) => changed.has(p));
    log.info(`${changedModels.length} of ${matched.length} models changed since ${describeBase(base)}${changedModels.length ? `: ${changedModels.join(', ')}` : ''}`);
    if (opts.changedOnly ?? true) selected = changedModels;
  }

  const skipped: RunReport['skipped'] = [];
  const inputs: ModelJobInput[] = [];
  // A model that cannot be read or run is recorded with what failed, and the other models still run.
  const errors: RunError[] = [];
  const failed = (name: string, path: string, e: unknown) => {
    const error = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
    errors.push({ name, path, error });
    log.warning(`${path} could not be run: ${error}`, path);
  };
  for (const file of readModelFiles(workspace, selected)) {
    let model: ReturnType<typeof readModelFile>;
    try {
      model = readModelFile(file.absolutePath);
    } catch (e) {
      failed(file.name, file.path, e);
      continue;
    }
    const precision = summarizeModel(model).precision;
    if (precision !== 'fp32') {
      const reason = `${precision}, not FP32`;
      skipped.push({ path: file.path, reason });
      log.warning(`${file.path} is ${reason}: skipped (srq makes variants from FP32 models; narrow the models glob to leave it out)`, file.path);
      continue;
    }
    inputs.push({ name: file.name, path: file.path, sha256: file.sha256, bytes: file.bytes.length, model });
  }

  const planned = [MANIFEST, REPORT, SUMMARY, ...inputs.flatMap((m) => [
    ...opts.variants.map((v) => `${m.name}.${VARIANT_SUFFIX[v]}.onnx`),
    ...['json', 'md', 'html'].map((ext) => `${REPORTS_DIR}/${m.name}.report.${ext}`),
  ])];
  clearOutDir(outDir, planned);

  const calibrationPaths = imagePaths(workspace, opts.calibrationImages, 'calibration');
  const evaluationPaths = imagePaths(workspace, opts.evaluationImages, 'evaluation');
  const leaked = sharedImages(calibrationPaths, evaluationPaths);
  if (leaked.length > 0) {
    log.warning(`${leaked.length} evaluation image(s) also calibrate (${leaked.join(', ')}): the gate then measures the drop on photos the quantizer was fitted to; give disjoint calibration-images and evaluation-images`);
  }
  const optionsHash = sha256Hex(JSON.stringify({
    variants: opts.variants,
    calibrationMethod: opts.calibrationMethod,
    biasCorrection: opts.biasCorrection ?? true,
    equalization: opts.equalization ?? true,
    gptq: opts.gptq ?? true,
    calibrationTiles: CALIBRATION_TILES,
    seed: CALIBRATION_SEED,
    tileSize: opts.tileSize,
    timeBudget: opts.timeBudget ?? null,
    memoryBudget: opts.memoryBudget ?? null,
    ...opts.gate,
    minCoverage: opts.minCoverage ?? null,
    scale: opts.scale ?? null,
    runtime: opts.runtime,
    calibration: opts.variants.includes('int8-static') ? imageSetHash(calibrationPaths) : null,
    evaluation: imageSetHash(evaluationPaths),
  }));
  let tiles: RasterImage[] | undefined;
  let evalImages: NamedImage[] | undefined;
  let searchImages: { name: string; image: RasterImage }[] | undefined;
  const ctx: ModelJobContext = {
    options: opts,
    calibrationTiles: () => (tiles ??= cutCalibrationTiles(readImages(calibrationPaths), { count: CALIBRATION_TILES, tileSize: opts.tileSize, seed: CALIBRATION_SEED })),
    evaluationImages: () => (evalImages ??= readImages(evaluationPaths)),
    searchImages: () => (searchImages ??= searchPhotos(readImages(calibrationPaths))),
    log,
  };

  mkdirSync(join(outDir, REPORTS_DIR), { recursive: true });
  const written: string[] = [];
  const runs: ModelRun[] = [];
  for (const input of inputs) {
    const run = await log.group(input.path, async (): Promise<ModelRun | undefined> => {
      try {
        const key = cacheKey(input.name, input.sha256, optionsHash);
        const { outcome, cache, dir } = await resultFor(input, key, ctx, deps);
        try {
          written.push(...publishModel(outcome, dir, outDir, log));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        const run: ModelRun = { outcome, cache };
        if (base) run.base = await baseOutcome(input, outcome, base, optionsHash, workspace, ctx, deps);
        return run;
      } catch (e) {
        failed(input.name, input.path, e);
        return undefined;
      }
    });
    if (run) runs.push(run);
  }

  const manifest = buildManifest(runs.map((r) => toValidatedModel(r.outcome)));
  const passed = errors.length === 0 && runs.every((r) => outcomePassed(r.outcome));
  const published = new Set(manifest.models.map((e) => e.file));
  const report: RunReport = {
    schema: RUN_SCHEMA,
    srqVersion: SRQ_VERSION,
    date: new Date().toISOString(),
    passed,
    summary: '',
    options: {
      models: opts.models,
      variants: opts.variants,
      ...opts.gate,
      calibrationMethod: opts.calibrationMethod,
      biasCorrection: opts.biasCorrection ?? true,
      equalization: opts.equalization ?? true,
      gptq: opts.gptq ?? true,
      tileSize: opts.tileSize,
      runtime: opts.runtime,
      calibrationImages: opts.calibrationImages,
      evaluationImages: opts.evaluationImages,
      calibrationPhotos: opts.variants.includes('int8-static') ? listImageFiles(calibrationPaths).map((p) => basename(p)) : [],
      evaluationPhotos: listImageFiles(evaluationPaths).map((p) => basename(p)),
    },
    base: base ?? null,
    models: runs.map((r) => runModel(r, published)),
    skipped,
    errors,
    files: [...written, MANIFEST, REPORT, SUMMARY],
  };
  report.summary = summaryLine(report);
  const result: RunResult = {
    passed,
    options: opts,
    outDir,
    reportPath: join(outDir, REPORT),
    manifestPath: join(outDir, MANIFEST),
    summaryPath: join(outDir, SUMMARY),
    report,
    manifest,
    models: runs,
    errors,
  };
  writeFileSync(result.manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  writeFileSync(result.reportPath, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(result.summaryPath, renderRunSummary(result));
  return result;
}

function findBase(workspace: string, opts: JobOptions, log: JobLog): BaseRevision | undefined {
  const base = resolveBase(workspace, opts.base!, { fetch: opts.fetchBase ?? false });
  if (!base) {
    // In CI a missing base only loses the comparison; asked for on the command line, it is a mistake.
    if (!opts.fetchBase) throw new JobInputError(`base revision ${opts.base} not found in the git checkout at ${workspace}; pass a branch, tag or commit that exists`);
    log.warning(`base revision ${opts.base} is not in the checkout and could not be fetched: running every matched model, without a comparison`);
    return undefined;
  }
  if (!base.mergeBase) log.info(`shallow checkout: comparing with ${opts.base} itself, not its merge base with HEAD (check out with fetch-depth: 0 for the merge base)`);
  return { ...base, rev: opts.baseLabel ?? base.rev };
}

function describeBase(base: BaseRevision): string {
  return `${base.rev}${base.mergeBase ? ` (merge base ${base.commit.slice(0, 7)})` : ` (${base.commit.slice(0, 7)})`}`;
}

/** The model's result from the cache, or computed (and saved); the work folder is the caller's to remove. */
async function resultFor(input: ModelJobInput, key: string, ctx: ModelJobContext, deps: RunDeps): Promise<{ outcome: ModelOutcome; cache: RunModel['cache']; dir: string }> {
  const { log, cache } = deps;
  const dir = join(deps.workDir, key);
  rmSync(dir, { recursive: true, force: true });
  if (cache && (await cache.restore(key, dir))) {
    try {
      const outcome = readOutcome(dir);
      if (outcome.sha256 !== input.sha256) throw new Error('it is for another model file');
      log.info(`cache hit: ${key} restored; no quantization or validation`);
      return { outcome, cache: 'hit', dir };
    } catch (e) {
      log.warning(`cache entry ${key} is unusable (${(e as Error).message}); computing again`);
      rmSync(dir, { recursive: true, force: true });
    }
  } else if (cache) {
    log.info(`cache miss: ${key}`);
  }
  const outcome = await runModelJob(input, ctx, dir);
  if (cache) await cache.save(key, dir);
  return { outcome, cache: cache ? 'miss' : 'off', dir };
}

/** The same job on the model's version at the base revision (restored from the cache when the base ran it). */
async function baseOutcome(input: ModelJobInput, head: ModelOutcome, base: BaseRevision, optionsHash: string, workspace: string, ctx: ModelJobContext, deps: RunDeps): Promise<ModelOutcome | 'new' | null> {
  const bytes = fileAtCommit(workspace, base.commit, input.path);
  if (!bytes) {
    deps.log.info(`${input.path} is new since ${describeBase(base)}`);
    return 'new';
  }
  const at = `${input.path}@${base.commit.slice(0, 7)}`;
  const sha256 = sha256Hex(bytes);
  // Unchanged (changed-only: false): the same bytes under the same options give the same result.
  if (sha256 === input.sha256) return head;
  try {
    deps.log.info(`before: ${at}`);
    const model = decodeModel(bytes, at);
    const { outcome, dir } = await resultFor({ name: input.name, path: at, sha256, bytes: bytes.length, model }, cacheKey(input.name, sha256, optionsHash), ctx, deps);
    rmSync(dir, { recursive: true, force: true });
    return outcome;
  } catch (e) {
    deps.log.warning(`cannot compare ${input.path} with ${base.rev}: ${(e as Error).message.split('\n')[0]}`, input.path);
    return null;
  }
}

/** Copy the model's published variants and its reports into the output folder; returns what was written. */
function publishModel(outcome: ModelOutcome, dir: string, outDir: string, log: JobLog): string[] {
  const listed = new Set(buildManifest([toValidatedModel(outcome)]).models.map((e) => e.file));
  const written: string[] = [];
  for (const v of outcome.variants) {
    if (listed.has(v.file)) {
      copyFileSync(join(dir, v.file), join(outDir, v.file));
      written.push(v.file);
    } else if (v.passed) {
      log.info(`${v.file} passed but is not published: the manifest holds one int8 file per model, and an earlier variant took it`);
    }
  }
  for (const file of Object.values(outcome.reports)) {
    copyFileSync(join(dir, file), join(outDir, REPORTS_DIR, file));
    written.push(`${REPORTS_DIR}/${file}`);
  }
  for (const v of outcome.variants) log.info(`${v.passed ? 'passed' : 'FAILED'}: ${v.quantization}${v.note ? ` (${v.note})` : ''}`);
  return written;
}

function runModel(r: ModelRun, published: ReadonlySet<string>): RunModel {
  const o = r.outcome;
  const variants = o.variants.map((v) => ({
    quantization: v.quantization,
    file: v.file,
    sha256: v.sha256,
    bytes: v.bytes,
    passed: v.passed,
    published: published.has(v.file),
    ...(v.note ? { note: v.note } : {}),
  }));
  const model: RunModel = {
    name: o.name,
    path: o.path,
    sha256: o.sha256,
    cache: r.cache,
    passed: outcomePassed(o),
    variants,
    reports: { json: `${REPORTS_DIR}/${o.reports.json}`, markdown: `${REPORTS_DIR}/${o.reports.markdown}`, html: `${REPORTS_DIR}/${o.reports.html}` },
  };
  if (r.base !== undefined) {
    model.base = r.base === null || r.base === 'new'
      ? r.base
      : { sha256: r.base.sha256, variants: r.base.variants.map(({ quantization, file, sha256, bytes, passed }) => ({ quantization, file, sha256, bytes, passed })) };
  }
  return model;
}

/**
 * Never write over a file srq did not write: every planned output must be absent or listed in the previous
 * run's report.json. The previous run's files are removed, so no stale variant outlives a failed gate.
 */
function clearOutDir(outDir: string, planned: readonly string[]): void {
  let previous: string[] = [];
  const previousReport = join(outDir, REPORT);
  if (existsSync(previousReport)) {
    try {
      const report = JSON.parse(readFileSync(previousReport, 'utf8')) as Partial<RunReport>;
      if (report.schema === RUN_SCHEMA && Array.isArray(report.files)) previous = report.files.filter((f) => typeof f === 'string' && !f.split('/').includes('..'));
    } catch {
      // Not ours: handled below like any other file in the way.
    }
  }
  const ours = new Set(previous);
  for (const p of planned) {
    if (existsSync(join(outDir, p)) && !ours.has(p)) {
      throw new JobInputError(`${join(outDir, p)} exists and was not written by srq run; choose another output folder`);
    }
  }
  for (const p of previous) rmSync(join(outDir, p), { force: true });
}

function imagePaths(workspace: string, paths: readonly string[], set: PhotoSet): string[] {
  return paths.length ? paths.map((p) => resolve(workspace, p)) : builtInPhotos(set);
}

/** The images' names and contents: what calibration and validation results depend on. */
function imageSetHash(paths: readonly string[]): string {
  return sha256Hex(listImageFiles(paths).map((p) => `${basename(p)} ${sha256Hex(readFileSync(p))}`).join('\n'));
}
