// One FP32 model through the whole job: make each variant, validate them all against FP32 on ground-truth photos,
// gate, and when static INT8 misses the budget let accuracy-aware quantization keep its most harmful layers float.
// Leaves the passing variant files, the reports and outcome.json in `dir`. Node-only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NamedImage } from '../../src-core/image/image-files.node.ts';
import type { RasterImage } from '../../src-core/image/raster.ts';
import { describeLine, resolveModel, type ModelDescription, type ResolvedModel } from '../../src-core/model/description.ts';
import { EDGE_VARIANT } from '../../src-core/manifest.ts';
import { decodeModel, encodeModel, setMetadata } from '../../src-core/onnx/model.ts';
import type { ModelProto } from '../../src-core/onnx/types.ts';
import { coverageLine, DEFAULT_MIN_COVERAGE, gateCoverage } from '../../src-core/quantize/coverage.ts';
import { quantizeDynamic } from '../../src-core/quantize/dynamic.ts';
import { convertToFp16 } from '../../src-core/quantize/fp16.ts';
import { residualSumNames } from '../../src-core/quantize/residual-sums.ts';
import { defaultPreluForm, preluFormOptions, quantizeStatic, type StaticQuantizeOptions, type StaticQuantizeResult } from '../../src-core/quantize/static.ts';
import { budgetMetadata, rankingLine, stepLine, verdictLine } from '../../src-core/report/budget.ts';
import { renderHtml } from '../../src-core/report/html.ts';
import { renderMarkdown } from '../../src-core/report/markdown.ts';
import { slowerLines } from '../../src-core/report/summary.ts';
import { createRunner } from '../../src-core/runtime/create-runner.node.ts';
import type { RunnerOptions } from '../../src-core/runtime/runner.ts';
import type { WasmMemory } from '../../src-core/runtime/wasm-memory.ts';
import { servedForm } from '../../src-core/runtime/served-form.node.ts';
import { measureNativeMemory } from '../../src-core/runtime/native-memory.node.ts';
import { quantizeWithinBudget } from '../../src-core/validate/accuracy-aware.ts';
import { applyGate, budgetText, dropGateWarning, withinBudget } from '../../src-core/validate/gate.ts';
import { reportToJson, type ValidationReport } from '../../src-core/validate/schema.ts';
import { validateModels, type Validation } from '../../src-core/validate/validate.ts';
import type { JobLog } from './log.ts';
import { memoryPlanLine, overMemoryBudget, planMemory, suggestedBudget, WASM_WORKER_BYTES, type MemoryPlan } from './memory-plan.ts';
import { defaultMemoryBudget, gb, memoryLine, MemoryWatch, residentBytes } from './memory-watch.ts';
import { DEFAULT_TIME_BUDGET, overBudget, planLine, planTime, searchOverBudget, type TimePlan } from './time-plan.ts';
import { prepareInferenceModel } from '../../src-core/inference-model.ts';
import { rasterToTensor } from '../../src-core/quantize/calibration-tiles.ts';
import { ruleRegistry } from '../../src-core/quantize/rules/index.ts';
import { sha256Hex } from './model-files.ts';
import type { JobOptions, Variant } from './options.ts';
import { OUTCOME_SCHEMA, writeOutcome, type ModelOutcome, type VariantOutcome } from './outcome.ts';

/** Side of the crops the HTML report shows per image (ground-truth px). */
const REPORT_CROP = 128;

/** File-name suffix of each variant: `esrgan-slim-x4.int8.onnx` is the static INT8 file the edge serves. */
export const VARIANT_SUFFIX: Record<Variant, string> = { 'int8-static': 'int8', 'int8-dynamic': 'int8-dynamic', fp16: 'fp16' };

export interface ModelJobInput {
  name: string;
  /** Shown in reports: the workspace path (or `path@base`). */
  path: string;
  sha256: string;
  bytes: number;
  model: ModelProto;
}

export interface ModelJobContext {
  options: JobOptions;
  /** Read on first use (a run restored wholly from the cache never decodes a photo). */
  calibrationTiles: () => RasterImage[];
  evaluationImages: () => NamedImage[];
  /** Photos the accuracy-aware search ranks and searches on (the calibration photos): its choice is then confirmed on evaluationImages. */
  searchImages: () => { name: string; image: RasterImage }[];
  log: JobLog;
}

interface Made { variant: Variant; file: string; model: ModelProto; bytes: Uint8Array; note?: string }

/** The served INT8 file (made[index]): its wasm memory (before row strips too, where they lowered it) and its native memory. */
interface ServedMemory { index: number; memory: WasmMemory; before?: WasmMemory; nativeMemory?: WasmMemory }

export async function runModelJob(input: ModelJobInput, ctx: ModelJobContext, dir: string): Promise<ModelOutcome> {
  const memoryBudget = (ctx.options.memoryBudget ?? defaultMemoryBudget()) * 1e9;
  const watch = new MemoryWatch('plan');
  let outcome: ModelOutcome | undefined;
  try {
    outcome = await runWatched(input, ctx, dir, watch, memoryBudget);
    return outcome;
  } finally {
    // Each step's measured peak: what the plan estimated is checked here, in every run's log.
    const steps = watch.stop();
    const peak = Math.max(...steps.map((s) => s.peakBytes));
    ctx.log.info(`memory: ${memoryLine(steps)}; peak ${gb(peak)} of the ${gb(memoryBudget)} budget`);
    if (outcome && peak > memoryBudget) ctx.log.warning(`${input.path} peaked at ${gb(peak)}, over its ${gb(memoryBudget)} memory budget: the memory plan under-estimated it; set memory-budget to ${suggestedBudget(peak)} on this runner`, input.path);
  }
}

async function runWatched(input: ModelJobInput, ctx: ModelJobContext, dir: string, watch: MemoryWatch, memoryBudget: number): Promise<ModelOutcome> {
  const { options: opts, log } = ctx;
  const runnerOptions: RunnerOptions = opts.threads !== undefined ? { threads: opts.threads } : {};
  const factory = (bytes: Uint8Array, hints: RunnerOptions = {}) => createRunner(opts.runtime, bytes, { ...hints, ...runnerOptions });
  // Resolved once: every step below gets this description, none re-derives the scale or border.
  const resolved = await resolveModel(input.model, {
    name: input.path,
    createRunner: (bytes) => factory(bytes),
    overrides: opts.scale !== undefined ? { scale: opts.scale } : {},
  });
  const { description } = resolved;
  log.info(describeLine(description));
  for (const note of description.notes) log.warning(note);
  // The plans come first: a model that cannot finish within its time or memory budget is refused now, with what
  // it needs, instead of being killed by the runner later.
  const started = performance.now();
  const budgetMinutes = opts.timeBudget ?? DEFAULT_TIME_BUDGET;
  const { time: plan, memory: memoryPlan, fp32SecondsPerPixel } = await planModel(resolved, ctx, factory, memoryBudget);
  log.info(planLine(plan, budgetMinutes));
  log.info(memoryPlanLine(memoryPlan, memoryBudget));
  const over = overBudget(plan, budgetMinutes, input.path) ?? overMemoryBudget(memoryPlan, memoryBudget, input.path);
  if (over) throw new BudgetError(over);

  const made: Made[] = [];
  // Static INT8 as made here is the accuracy-aware search's round 1: it reuses its ranges and bias shifts.
  let staticInt8: StaticQuantizeResult | undefined;
  for (const variant of opts.variants) {
    log.info(`${variant}: quantizing`);
    watch.step(variant);
    const variantStarted = performance.now();
    const { model, quantized } = await makeVariant(variant, resolved, input.path, ctx, factory, watch, memoryPlan.convsPerPart);
    staticInt8 ??= quantized;
    const bytes = encodeModel(model);
    made.push({ variant, file: `${input.name}.${VARIANT_SUFFIX[variant]}.onnx`, model, bytes });
    log.info(`${variant}: ${(bytes.length / 1e6).toFixed(2)} MB in ${((performance.now() - variantStarted) / 1000).toFixed(1)} s`);
  }

  watch.step('validation');
  let validation = await validate(input, resolved, made, ctx, factory);
  const gateWarning = dropGateWarning(validation.report, opts.gate);
  if (gateWarning) log.warning(`${input.path}: ${gateWarning}`, input.path);
  const staticIndex = made.findIndex((m) => m.variant === 'int8-static');
  // Before any conv goes float, static INT8 that misses the gate tries its cheaper forms (cheapForms), every conv
  // still int8, from round 1's ranges and GPTQ weights (no calibration again); bias
  // shifts are measured again, as each form changes what the convs read (x4plus with round 1's shifts: drop 0.127 →
  // 0.125). The first form within the gate is kept.
  const sums = staticInt8 ? residualSumNames(staticInt8.floatModel) : [];
  const forms = staticInt8 ? cheapForms(staticInt8.preluRewrites.length, sums, opts.runtime) : [];
  for (const form of validation.report.candidates[staticIndex]?.gate?.passed === false ? forms : []) {
    const missed = withinBudget(opts.gate, validation.report.candidates[staticIndex]!).value;
    log.info(`int8-static misses the gate (${budgetText(opts.gate)}): trying its ${form.what} before keeping layers float`);
    watch.step('int8-static');
    const cheap = await makeVariant('int8-static', resolved, input.path, ctx, factory, watch, memoryPlan.convsPerPart, {
      ...form.options, ranges: staticInt8!.calibration.ranges,
      ...(staticInt8!.equalization ? { equalizationRanges: staticInt8!.equalization.ranges } : {}),
      ...(staticInt8!.gptqWeights ? { gptqWeights: staticInt8!.gptqWeights } : {}),
    });
    const tried = made.map((m, i) => (i === staticIndex ? { ...m, model: cheap.model, bytes: encodeModel(cheap.model) } : m));
    watch.step('validation');
    const retry = await validate(input, resolved, tried, ctx, factory);
    const change = `${opts.gate.metric} ${missed.toFixed(3)} → ${withinBudget(opts.gate, retry.report.candidates[staticIndex]!).value.toFixed(3)}`;
    const passed = retry.report.candidates[staticIndex]!.gate?.passed;
    log.info(`${form.what}: ${change}${passed ? ', within the gate' : form === forms.at(-1) ? ': still outside the gate, so the search starts from the all-int8 form' : ': still outside the gate'}`);
    if (passed) {
      made.splice(0, made.length, ...tried);
      made[staticIndex]!.note = `${form.what} (every conv int8): ${change} on the evaluation photos, within the gate; the all-int8 form missed it`;
      validation = retry;
      staticInt8 = cheap.quantized;
      break;
    }
  }
  const staticResult = validation.report.candidates[staticIndex];
  const searchSkipped = staticResult && !staticResult.gate?.passed ? searchOverBudget(plan, (performance.now() - started) / 1000, budgetMinutes) : undefined;
  if (searchSkipped) {
    made[staticIndex]!.note = `int8-static misses the gate (${budgetText(opts.gate)}); ${searchSkipped}`;
    log.info(made[staticIndex]!.note!);
  } else if (staticResult && !staticResult.gate?.passed) {
    // Accuracy-aware: keep the layers that hurt most in float until the gate holds (or nothing does).
    log.info(`int8-static misses the gate (${budgetText(opts.gate)}): searching for layers to keep float`);
    watch.step('fallback search');
    const budget = await quantizeWithinBudget(resolved, {
      ...(staticInt8 ? { first: staticInt8 } : {}),
      ...preluFormOptions(defaultPreluForm(opts.runtime)), // round 1's
      heldOut: withinBudget(opts.gate, staticResult).value,
      tiles: ctx.calibrationTiles(),
      method: opts.calibrationMethod,
      biasCorrection: opts.biasCorrection ?? true,
      equalization: opts.equalization ?? true,
      gptq: opts.gptq ?? true,
      createRunner: factory,
      onProgress: (m) => log.progress(m),
      name: input.path,
      evalImages: ctx.searchImages(),
      budget: opts.gate,
      timeSpeed: false,
      runtime: opts.runtime,
      ...runnerOptions,
      tileSize: opts.tileSize,
      onStep: (step) => log.info(stepLine(step, opts.gate)),
      onRanking: (ranking) => log.info(rankingLine(ranking)),
    });
    const verdict = verdictLine(budget, opts.gate).split('\n')[0]!;
    log.info(verdict);
    const current = made[staticIndex]!;
    if (budget.best) {
      const model = budget.best.quantized.model;
      setMetadata(model, 'srq.float_nodes', budget.best.step.floatNodes.join(','));
      const { step } = budget.best;
      setMetadata(model, ...budgetMetadata(opts.gate, opts.gate.metric === 'fidelity' ? step.fidelity : step.drop));
      made[staticIndex] = { ...current, model, bytes: encodeModel(model), note: verdict };
      watch.step('validation');
      validation = await validate(input, resolved, made, ctx, factory);
      // The search never saw the evaluation photos: its choice is confirmed there, and a miss is said plainly.
      const confirmed = validation.report.candidates[staticIndex];
      if (confirmed && !confirmed.gate?.passed) {
        const heldOut = withinBudget(opts.gate, confirmed).value;
        made[staticIndex]!.note = `${verdict} on the calibration photos, but ${opts.gate.metric} ${heldOut.toFixed(3)} on the held-out evaluation photos, outside the gate (${budgetText(opts.gate)}): the model behaves differently on photos unlike its calibration set`;
        log.info(made[staticIndex]!.note!);
      }
    } else {
      current.note = verdict;
    }
  }
  // What ORT really runs in int8; static INT8 below the minimum coverage fails its gate. It is onnxruntime-node's
  // optimizer that decides, so the measurement needs the native runtime (imported only then: the bundled Action
  // sets up the native addon before it loads it, and falls back to wasm when it cannot).
  const int8Coverage = opts.runtime === 'node' ? (await import('../../src-core/quantize/coverage.node.ts')).int8Coverage : undefined;
  if (!int8Coverage) log.info('int8 coverage not measured: it is what the native ONNX Runtime fuses, and this run uses wasm');
  watch.step('coverage');
  for (const [i, m] of made.entries()) {
    if (m.variant === 'fp16' || !int8Coverage) continue;
    const coverage = await int8Coverage(m.bytes);
    log.info(`${m.variant}: ${coverageLine(coverage)}`);
    const message = gateCoverage(validation.report, i, coverage, m.variant === 'int8-static' ? opts.minCoverage ?? DEFAULT_MIN_COVERAGE : undefined);
    if (message) log.info(`${m.variant}: ${message}`);
  }
  for (const line of slowerLines(validation.report)) log.warning(line, input.path);
  watch.step('wasm memory');
  const memory = await measureServedMemory(made, validation.report, log, memoryBudget, { runtime: opts.runtime, ...runnerOptions });
  if (memory) {
    watch.step('native memory');
    const nativeMemory = await measureServedNativeMemory(made[memory.index]!, fp32SecondsPerPixel, memory, log, memoryBudget, opts.runtime);
    if (nativeMemory) memory.nativeMemory = nativeMemory;
  }
  return writeResults(input, made, validation, description, opts, dir, memory);
}

/** How long the native memory measure may take: seconds, not minutes (a deep model measures smaller windows). */
const NATIVE_MEASURE_SECONDS = 30;
/** What the measuring child's own Node and onnxruntime-node take before the session, outside what it measures. */
const NATIVE_CHILD_BYTES = 0.1e9;

/**
 * onnxruntime-node's memory for the served INT8 file (native-memory.node.ts): the edge's Node and Deno entries size
 * their windows from it (ORT-node's per-pixel memory was 0.9–2.3× the wasm measure on the embedded files, 1.7× on
 * x4plus's). Measured in child processes within what the memory budget leaves and NATIVE_MEASURE_SECONDS; its first
 * window is planned from the wasm measure before row strips (twice it) and the plan's untiled FP32 run (int8 on one
 * thread taken as fast as FP32 on the job's threads; validation's tiled speed would count each tile's context). Idle,
 * the guess over-states a conv net's child (x4plus 9.8 s against 5.9 s at 128², RRDBNet-6b 3.5 against 3.5 at 256²,
 * x4fast 2.1 against 1.8) and under-states SwinIR-lite's (0.6 against 1.3: its INT8 is slower than FP32); a loaded
 * machine ran x4plus's child for 22 s, so a child is stopped where the time runs out (measureNativeMemory). Needs
 * onnxruntime-node: a wasm run leaves it out, and the edge sizes native windows from the wasm measure.
 */
async function measureServedNativeMemory(
  served: Made,
  fp32SecondsPerPixel: number,
  wasm: { memory: WasmMemory; before?: WasmMemory },
  log: JobLog,
  memoryBudget: number,
  runtime: 'node' | 'web',
): Promise<WasmMemory | undefined> {
  const { variant, bytes } = served;
  const fallback = 'the edge sizes native windows from the wasm measure';
  if (runtime !== 'node') {
    log.info(`${variant}: onnxruntime-node's memory not measured (this run uses wasm); ${fallback}`);
    return undefined;
  }
  const unstripped = wasm.before ?? wasm.memory;
  try {
    const nativeMemory = await measureNativeMemory(bytes, {
      limits: {
        bytes: memoryBudget - residentBytes() - NATIVE_CHILD_BYTES,
        seconds: NATIVE_MEASURE_SECONDS,
        guess: {
          memory: { baseBytes: Math.max(unstripped.baseBytes, 64 * 2 ** 20), bytesPerPixel: 2 * unstripped.bytesPerPixel },
          secondsPerPixel: fp32SecondsPerPixel,
        },
      },
    });
    log.info(`${variant}: onnxruntime-node memory ${(nativeMemory.baseBytes / 2 ** 20).toFixed(1)} MB + ${nativeMemory.bytesPerPixel} B per window px (the edge sizes native windows from it)`);
    return nativeMemory;
  } catch (e) {
    log.warning(`${variant}: onnxruntime-node's memory not measured (${(e as Error).message}); ${fallback}`);
    return undefined;
  }
}

/**
 * The wasm memory of the INT8 file the edge will serve (the first that passed its gate, as buildManifest lists it):
 * the edge sizes its windows from it. Where row strips lower it (servedForm), that file replaces the variant's:
 * the same output bytes, so the validation and coverage above hold for it. A failure costs the edge its window
 * sizing (it falls back to 128² tiles), not the job: a warning.
 */
async function measureServedMemory(made: Made[], report: ValidationReport, log: JobLog, memoryBudget: number, runner: { runtime: 'node' | 'web'; threads?: number }): Promise<ServedMemory | undefined> {
  const index = made.findIndex((m, i) => EDGE_VARIANT[m.variant].variant === 'int8' && report.candidates[i]?.gate?.passed === true);
  if (index < 0) return undefined;
  const { variant, bytes } = made[index]!;
  try {
    // The measuring worker's wasm memory stays within what the budget has left (its own V8 and ORT cost WASM_WORKER_BYTES).
    const served = await servedForm(bytes, { limitBytes: memoryBudget - residentBytes() - WASM_WORKER_BYTES, ...runner });
    const { memory, before } = served;
    const perPixel = (m: WasmMemory) => `${m.bytesPerPixel} B per window px`;
    if (served.rowStrips.length > 0) {
      made[index] = { ...made[index]!, bytes: served.bytes, model: decodeModel(served.bytes) };
      report.candidates[index]!.bytes = served.bytes.length;
      const convs = served.rowStrips.map((c) => `${c.node}${c.concat ? ' with its Concat' : ''} in ${c.strips}`).join(', ');
      log.info(`${variant}: row strips (${convs}) for onnxruntime-web's memory: ${perPixel(before!)} → ${perPixel(memory)}, output byte-equal`);
    } else if (served.refused) {
      log.warning(`${variant}: ${served.refused}`);
    }
    log.info(`${variant}: wasm memory ${(memory.baseBytes / 2 ** 20).toFixed(1)} MB + ${perPixel(memory)} (the edge sizes its windows from it)`);
    return { index, memory, ...(before ? { before } : {}) };
  } catch (e) {
    log.warning(`${variant}: wasm memory not measured (${(e as Error).message}); the edge will use 128² tiles for it`);
    return undefined;
  }
}

/** The time and memory plans, from timed FP32 runs on a calibration tile (after a warm-up run) and what they took. */
async function planModel(
  resolved: ResolvedModel,
  ctx: ModelJobContext,
  factory: (bytes: Uint8Array) => ReturnType<typeof createRunner>,
  memoryBudget: number,
): Promise<{ time: TimePlan; memory: MemoryPlan; fp32SecondsPerPixel: number }> {
  const { options: opts } = ctx;
  const tiles = ctx.calibrationTiles();
  const tile = rasterToTensor(tiles[0]!);
  const baseBytes = residentBytes();
  const runner = await factory(prepareInferenceModel(resolved).bytes);
  let tileSeconds: number;
  let sessionBytes: number;
  try {
    await runner.run(tile.data, tile.dims);
    sessionBytes = Math.max(0, residentBytes() - baseBytes);
    // The faster of two timed runs: the first runs after loading still pay for ORT's allocations.
    tileSeconds = Infinity;
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      await runner.run(tile.data, tile.dims);
      tileSeconds = Math.min(tileSeconds, (performance.now() - t0) / 1000);
    }
  } finally {
    await runner.release();
  }
  const nodes = resolved.model.graph?.node ?? [];
  const biasCorrection = opts.biasCorrection ?? true;
  const convs = nodes.filter((n) => n.opType === 'Conv' || n.opType === 'ConvTranspose').length;
  const prelus = nodes.filter((n) => n.opType === 'PRelu').length;
  const evaluation = ctx.evaluationImages().map(({ image }) => image);
  const memory = planMemory({
    baseBytes, sessionBytes, tileSide: tiles[0]!.width, convs: biasCorrection ? convs : 0,
    variants: opts.variants, description: resolved.description, tileSize: opts.tileSize, evaluation,
  }, memoryBudget);
  const time = planTime({
    tileSeconds,
    tileSide: tiles[0]!.width,
    calibrationTiles: tiles.length,
    method: opts.calibrationMethod,
    biasCorrection,
    // Equalization's own pass only where PRelus are rewritten after it; otherwise calibration's pass measures it.
    equalizationPass: (opts.equalization ?? true) && prelus > 0 && defaultPreluForm(opts.runtime) !== 'whole',
    gptq: opts.gptq ?? true,
    convs,
    convsPerPart: memory.convsPerPart,
    layers: nodes.filter((n) => ruleRegistry.has(n.opType ?? '') && n.opType !== 'Relu' && n.opType !== 'Clip').length,
    cheapForms: cheapForms(prelus, residualSumNames(resolved.model), opts.runtime).length,
    variants: opts.variants,
    description: resolved.description,
    tileSize: opts.tileSize,
    evaluation,
    search: ctx.searchImages().map(({ image }) => image),
  });
  return { time, memory, fp32SecondsPerPixel: tileSeconds / tiles[0]!.width / tiles[0]!.height };
}

/** One form static INT8 tries when its round-1 file misses the gate: what it changes, and how it is made. */
interface CheapForm {
  what: string;
  options: Pick<StaticQuantizeOptions, 'wholePrelus' | 'preluMode' | 'exclude'>;
}

/**
 * The forms to try after round 1, each with every conv int8. Round 1 runs PReLUs in the runtime's form
 * (defaultPreluForm: pair convs on onnxruntime-node, whole on wasm) and residual sums as QLinearAdd. Then: the
 * residual sums float (residual-sums.ts), and on node the PReLUs whole (DQ → float PRelu → Q), with the sums float
 * too. Real-ESRGAN x4fast, held out: element-wise ops 0.189 dB, pair convs 0.065–0.097, whole 0.074–0.080 (about
 * 1.7× FP32 against 2.4×); x4plus, sums float: 0.127 → 0.056 (README, *PReLU models, residual sums*).
 */
export function cheapForms(prelus: number, sums: readonly string[], runtime: 'node' | 'web'): CheapForm[] {
  const form = defaultPreluForm(runtime);
  const forms: CheapForm[] = [];
  if (sums.length > 0) forms.push({ what: `${sums.length} residual sums float`, options: { ...preluFormOptions(form), exclude: sums } });
  if (prelus > 0 && form !== 'whole') {
    const floatSums = sums.length > 0 ? ` and ${sums.length} residual sums float` : '';
    forms.push({ what: `${prelus} PReLUs whole (DQ → PRelu → Q)${floatSums}`, options: { ...preluFormOptions('whole'), exclude: sums } });
  }
  return forms;
}

/** A model whose plan does not fit its time or memory budget (refused before any work). */
export class BudgetError extends Error {
  override name = 'BudgetError';
}

/** Progress-line prefixes of static INT8's steps (calibrate.ts, bias-correction.ts). */
const STATIC_STEPS = ['calibration', 'bias correction'];

async function makeVariant(
  variant: Variant,
  { model }: ResolvedModel,
  name: string,
  ctx: ModelJobContext,
  factory: (bytes: Uint8Array, hints?: RunnerOptions) => ReturnType<typeof createRunner>,
  watch: MemoryWatch,
  biasConvsPerSession: number,
  staticOptions: Pick<StaticQuantizeOptions, 'wholePrelus' | 'preluMode' | 'exclude' | 'ranges' | 'equalizationRanges' | 'gptqWeights'> = {},
): Promise<{ model: ModelProto; quantized?: StaticQuantizeResult }> {
  if (variant === 'int8-dynamic') return { model: quantizeDynamic(model, { name }).model };
  if (variant === 'fp16') return { model: convertToFp16(model, { name }).model };
  const quantized = await quantizeStatic(model, {
    ...preluFormOptions(defaultPreluForm(ctx.options.runtime)),
    tiles: ctx.calibrationTiles(),
    method: ctx.options.calibrationMethod,
    biasCorrection: ctx.options.biasCorrection ?? true,
    equalization: ctx.options.equalization ?? true,
    gptq: ctx.options.gptq ?? true,
    biasConvsPerSession,
    ...staticOptions,
    createRunner: factory,
    onProgress: (m) => {
      // Calibration and bias correction are the steps with the largest peaks: the log gives each its own.
      const step = STATIC_STEPS.find((s) => m.startsWith(s));
      if (step) watch.step(step);
      ctx.log.progress(m);
    },
    name,
  });
  return { model: quantized.model, quantized };
}

async function validate(
  input: ModelJobInput,
  resolved: ResolvedModel,
  made: readonly Made[],
  ctx: ModelJobContext,
  factory: (bytes: Uint8Array) => ReturnType<typeof createRunner>,
): Promise<Validation> {
  const { options: opts } = ctx;
  ctx.log.info(`validating ${made.map((m) => m.variant).join(', ')} against FP32 on ${ctx.evaluationImages().length} images`);
  const { report, crops } = await validateModels(
    { path: input.path, model: resolved.model, bytes: input.bytes },
    made.map((m) => ({ path: m.file, model: m.model, bytes: m.bytes.length })),
    {
      images: ctx.evaluationImages(),
      createRunner: (bytes) => factory(bytes),
      runtime: opts.runtime,
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      tileSize: opts.tileSize,
      description: resolved.description,
      cropSize: REPORT_CROP,
      onProgress: (m) => ctx.log.progress(m),
    },
  );
  return { report: applyGate(report, opts.gate), crops };
}

function writeResults(
  input: ModelJobInput,
  made: readonly Made[],
  { report, crops }: Validation,
  { scale, border, overlap, wholeImage }: ModelDescription,
  opts: JobOptions,
  dir: string,
  served: ServedMemory | undefined,
): ModelOutcome {
  mkdirSync(dir, { recursive: true });
  const variants: VariantOutcome[] = made.map((m, i) => {
    const passed = report.candidates[i]!.gate?.passed === true;
    // A variant that failed its gate is not written: nothing can publish it by mistake. One that passed has been
    // loaded and run by onnxruntime in validation, so every file written here loads.
    if (passed) writeFileSync(join(dir, m.file), m.bytes);
    return { quantization: m.variant, file: m.file, sha256: sha256Hex(m.bytes), bytes: m.bytes.length, passed, ...(m.note ? { note: m.note } : {}), ...(served?.index === i ? { memory: served.memory, ...(served.nativeMemory ? { nativeMemory: served.nativeMemory } : {}) } : {}) };
  });
  const reports = { json: `${input.name}.report.json`, markdown: `${input.name}.report.md`, html: `${input.name}.report.html` };
  writeFileSync(join(dir, reports.json), reportToJson(report));
  writeFileSync(join(dir, reports.markdown), renderMarkdown(report));
  writeFileSync(join(dir, reports.html), renderHtml(report, crops));
  const outcome: ModelOutcome = {
    schema: OUTCOME_SCHEMA,
    name: input.name,
    path: input.path,
    sha256: input.sha256,
    bytes: input.bytes,
    scale,
    border,
    overlap,
    ...(wholeImage ? { wholeImage } : {}),
    gate: opts.gate,
    variants,
    // Through JSON, as the cache will hand it back (infinite PSNR = null): fresh and restored runs read alike.
    report: JSON.parse(reportToJson(report)),
    reports,
  };
  writeOutcome(dir, outcome);
  return outcome;
}
