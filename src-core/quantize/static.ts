// Static INT8 in QDQ format: plan with the per-op rules, calibrate on image tiles, rewrite.
import type { RasterImage } from '../image/raster.ts';
import { Graph } from '../onnx/graph.ts';
import { setMetadata, cloneModel } from '../onnx/model.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';
import { optimizeGraph } from '../optimize/index.ts';
import { preluName, rewritePrelus, type PreluRewrite } from '../optimize/prelu.ts';
import { channelRangesOf, channelScaledRanges, equalizationSites, equalizeActivations, siteTensors, type Equalization } from './equalize.ts';
import { SRQ_VERSION } from '../version.ts';
import { calibrate, measureMinMax, DEFAULT_CALIBRATION_METHOD, type CalibrationMethod, type CalibrationResult, type RunnerFactory } from './calibrate.ts';
import { atQdqOpset, checkFloatModel } from './checks.ts';
import type { OpsetUpgrade } from '../onnx/opset-upgrade.ts';
import { biasTargets, correctBiases, measureBiasShifts, type BiasCorrection } from './bias-correction.ts';
import { floatTensors } from './float-tensors.ts';
import type { ActivationType } from './params.ts';
import { QuantPlan, RuleContext } from './plan.ts';
import { applyPlan, QuantizeError, type ActivationParams, type Range } from './rewrite.ts';
import { ruleRegistry } from './rules/index.ts';
import { shareConcatRanges } from './concat-ranges.ts';
import { roundWeightsFromData, type RoundedWeight } from './gptq.ts';
import { clipBounds } from './rules/activation.ts';
import { floatConstant } from '../optimize/constants.ts';

export interface StaticQuantizeOptions {
  tiles: readonly RasterImage[];
  method?: CalibrationMethod;
  percentile?: number;
  activationType?: ActivationType;
  /** Node names or op types that stay float. */
  exclude?: readonly string[];
  createRunner: RunnerFactory;
  onProgress?: (message: string) => void;
  /** Name of the model in error messages. */
  name?: string;
  /**
   * Calibrated ranges from an earlier run on the same model, tiles and method (its `calibration.ranges`):
   * ranges do not depend on which nodes are excluded, so only tensors missing here are calibrated again.
   */
  ranges?: ReadonlyMap<string, Range>;
  /** Empirical bias correction on the calibration tiles (bias-correction.ts). Default on. */
  biasCorrection?: boolean;
  /** Convs bias correction measures per session (default 48): fewer need less memory and more runs over the tiles. */
  biasConvsPerSession?: number;
  /**
   * Shifts measured by an earlier run on the same model and tiles (its `biasShifts`): applied to the convs this plan
   * still quantizes instead of measured again (the accuracy-aware search's rounds; measuring is the costly part).
   */
  biasShifts?: ReadonlyMap<string, Float64Array>;
  /** Activation equalization across conv pairs before calibration (equalize.ts). Default on. */
  equalization?: boolean;
  /** Its per-channel ranges from an earlier run on the same model and tiles (its `equalization.ranges`). */
  equalizationRanges?: ReadonlyMap<string, Float32Array>;
  /** Conv weights rounded by GPTQ from the calibration tiles (gptq.ts). Default on. */
  gptq?: boolean;
  /** Its weights from an earlier run on the same model and tiles (its `gptqWeights`). */
  gptqWeights?: ReadonlyMap<string, RoundedWeight>;
  /**
   * Keep PRelus whole (DQ → float PRelu → Q) instead of their int8 rewrite (optimize/prelu.ts): every one (true) or
   * those named (the accuracy-aware search's choice). Default none: the rewrite runs about twice as fast; whole
   * PRelus are 1.3 dB closer to FP32 on Real-ESRGAN x4fast.
   */
  wholePrelus?: boolean | readonly string[];
  /** The int8 form of the PRelus not kept whole (optimize/prelu.ts); default 'mul-add' (the CLI and the job choose by runtime: preluFormOptions). */
  preluMode?: 'mul-add' | 'pair-conv';
}

/** How static INT8 runs a model's PReLUs (optimize/prelu.ts): int8 element-wise ops, pair convs, or whole. */
export type PreluForm = 'mul-add' | 'pair-conv' | 'whole';

/**
 * The PReLU form `srq quantize` and the job use on a runtime. Measured on Real-ESRGAN x4fast (optimize/prelu.ts,
 * README *PReLU models*), this machine without VNNI: on onnxruntime-node pair convs are the fastest form (2.65–2.77×
 * FP32 against 2.12–2.39× for element-wise ops, 1.39–1.49× whole) and 1 dB closer to FP32; on wasm the three are
 * within noise of each other (1.40–1.74×, each fastest in one of three runs) and whole PReLUs are the closest.
 */
export function defaultPreluForm(runtime: 'node' | 'web'): PreluForm {
  return runtime === 'node' ? 'pair-conv' : 'whole';
}

/** quantizeStatic's options for a PReLU form (both fields set, so that a form given later replaces an earlier one). */
export function preluFormOptions(form: PreluForm): Required<Pick<StaticQuantizeOptions, 'preluMode' | 'wholePrelus'>> {
  return form === 'whole' ? { preluMode: 'mul-add', wholePrelus: true } : { preluMode: form, wholePrelus: false };
}

export interface StaticQuantizeResult {
  model: ModelProto;
  /** The float graph the quantized model was rewritten from (after exact rewrites): same tensor names. */
  floatModel: ModelProto;
  plan: QuantPlan;
  params: ActivationParams;
  calibration: CalibrationResult;
  /** Set when the model was upgraded from an older opset first (what changed). */
  opsetUpgrade?: OpsetUpgrade;
  /** What bias correction changed; absent when it was off or found no conv with a bias. */
  biasCorrection?: BiasCorrection;
  /** What activation equalization rescaled; absent when it was off. */
  equalization?: Equalization;
  /** The conv weights GPTQ rounded, by name (for `gptqWeights` of later runs); absent when GPTQ was off. */
  gptqWeights?: ReadonlyMap<string, RoundedWeight>;
  /** Each corrected conv's measured mean shift, by bias name (for `biasShifts` of later runs). */
  biasShifts?: ReadonlyMap<string, Float64Array>;
  /**
   * Each PRelu rewritten into int8 element-wise ops and the nodes that replaced it (the search's unit for keeping
   * that PRelu whole); none with `wholePrelus: true`, or when the model has no PRelu.
   */
  preluRewrites: PreluRewrite[];
  /** PRelus kept whole (by name), as `wholePrelus` asked. */
  wholePrelus: string[];
}

/** Which nodes to quantize and how, by the rule registry, skipping excluded nodes and non-default domains. */
export function planQuantization(model: ModelProto, exclude: readonly string[] = []): QuantPlan {
  const graph = new Graph(model.graph!);
  const plan = new QuantPlan();
  const ctx = new RuleContext(graph, plan, floatTensors(graph));
  const excluded = new Set(exclude);
  const known = new Set(graph.nodes.flatMap((n) => [n.name ?? '', n.opType ?? '']));
  const unknown = [...excluded].filter((e) => !known.has(e));
  if (unknown.length > 0) {
    throw new QuantizeError(`--exclude ${unknown.join(', ')}: no node or op type of that name in the model (see srq info for its ops)`);
  }
  const isExcluded = (n: NodeProto) => excluded.has(n.name ?? '') || excluded.has(n.opType ?? '');
  for (const node of graph.topologicalOrder()) {
    if (isExcluded(node) || (node.domain && node.domain !== 'ai.onnx')) continue;
    ruleRegistry.get(node.opType ?? '')?.apply(node, ctx);
  }
  // A Clip left float (excluded, or not foldable) still bounds its output exactly: quantized for a consumer, that
  // tensor gets the Clip's range too, not a calibrated one a little inside it (which clips bright pixels off the
  // output's 1/255 grid: measured 0.12 dB on one photo with the output Clip of esrgan-slim-x4 kept float).
  for (const t of plan.activations) {
    const producer = graph.producer(t);
    const bounds = producer && !plan.clipBounds.has(t) ? clipBounds(producer, { graph }) : undefined;
    if (bounds) plan.clipBounds.set(t, bounds);
  }
  return plan;
}

/** Hex SHA-256 of the calibration tiles (recorded so a model says what it was calibrated on). */
export async function tilesHash(tiles: readonly RasterImage[]): Promise<string> {
  const total = tiles.reduce((n, t) => n + t.data.length + 12, 0);
  const all = new Uint8Array(total);
  let offset = 0;
  for (const t of tiles) {
    new DataView(all.buffer).setUint32(offset, t.width, true);
    new DataView(all.buffer).setUint32(offset + 4, t.height, true);
    new DataView(all.buffer).setUint32(offset + 8, t.channels, true);
    all.set(t.data, offset + 12);
    offset += t.data.length + 12;
  }
  const digest = await crypto.subtle.digest('SHA-256', all);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Calibrated ranges, corrected where the graph says more: exact Clip bounds, and image inputs seen within [0,1]
 * widened to exactly [0,1] so that u8 holds every 8-bit pixel value exactly (scale 1/255, zero point 0), and one
 * range for a Concat's inputs and output where that costs little (concat-ranges.ts).
 */
export function settleRanges(model: ModelProto, plan: QuantPlan, calibrated: ReadonlyMap<string, Range>): Map<string, Range> {
  const ranges = new Map(calibrated);
  const graph = new Graph(model.graph!);
  let imageInput = false;
  for (const input of graph.inputs) {
    const r = ranges.get(input.name ?? '');
    if (r && r.min >= 0 && r.max <= 1) {
      ranges.set(input.name!, { min: 0, max: 1 });
      imageInput = true;
    }
  }
  if (imageInput) {
    // Only where the calibrated range looks like an image's: [0, top] give or take a little (over- and undershoot).
    // Measured: waifu2x [−0.06, 1.15], RRDBNet-6b [−0.02, 1.16], EDSR [−0.07, 1.11] · 255.
    for (const { tensor, top } of imageOutputTensors(graph)) {
      const r = ranges.get(tensor);
      if (r && r.min > -0.25 * top && r.max < 1.5 * top && r.max > 0.75 * top) ranges.set(tensor, { min: 0, max: top });
    }
  }
  for (const [t, r] of plan.fixedRanges) ranges.set(t, r);
  shareConcatRanges(graph, plan, ranges);
  return ranges;
}

/** Ops that carry values to the output unchanged (quantize/rules/move.ts's, which run on u8 or between DQ and Q). */
const MOVES = new Set(['DepthToSpace', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity']);

/**
 * The tensors whose values are an image output's, each with the top of the range that maps onto its [0, 1]: each
 * graph output (1), and back through ops that only move values (DepthToSpace after the last conv) and a Mul by a
 * positive scalar k (srq's ÷255 after a [0, 255] model: 1/k), while a tensor has that one reader. Their values
 * become 8-bit pixels clamped to [0, 1] (tiling/tile-io.ts), so u8 over exactly [0, top] rounds them where the
 * pixels are rounded: the output's own int8 step then costs nothing (waifu2x upconv_7: 46.94 → 47.38 dB fidelity).
 */
function imageOutputTensors(graph: Graph): { tensor: string; top: number }[] {
  const found: { tensor: string; top: number }[] = [];
  for (const output of graph.outputs) {
    let tensor = output.name ?? '';
    let top = 1;
    for (;;) {
      found.push({ tensor, top });
      const p = graph.producer(tensor);
      if (!p) break;
      let from: string | undefined;
      if (MOVES.has(p.opType ?? '')) {
        from = p.input?.[0];
      } else if (p.opType === 'Mul') {
        const [a, b] = p.input ?? [];
        const k = [a, b].map((x) => floatConstant(graph, x ?? '')).find((c) => c?.data.length === 1)?.data[0];
        from = k !== undefined && k > 0 ? (floatConstant(graph, a ?? '') ? b : a) : undefined;
        if (from) top /= k!;
      }
      if (!from || graph.isGraphOutput(from) || graph.consumers(from).length !== 1) break;
      tensor = from;
    }
  }
  return found;
}

export async function quantizeStatic(source: ModelProto, opts: StaticQuantizeOptions): Promise<StaticQuantizeResult> {
  const name = opts.name ?? 'the model';
  checkFloatModel(source, name);
  const { model, opsetUpgrade } = atQdqOpset(source, name);
  if (opts.tiles.length === 0) throw new QuantizeError('no calibration tiles; pass calibration images');
  const method = opts.method ?? DEFAULT_CALIBRATION_METHOD;
  const activationType = opts.activationType ?? 'u8';
  // Exact rewrites first (sub-pixel convs); calibrate that float graph, rewrite copies of it (same tensor names).
  const float = cloneModel(model);
  optimizeGraph(float, { staticInt8: true });
  // Activation equalization sees PRelus whole (positive scales commute with them); their int8 form comes after.
  // Where that form changes nothing, calibration's min/max pass runs first and gives equalization its channels.
  const firstPass = opts.equalization === false || opts.equalizationRanges || opts.ranges
    ? undefined
    : await minMaxBeforeEqualizing(float, opts);
  const equalization = opts.equalization === false
    ? undefined
    : await equalizeActivations(float, opts.tiles, opts.createRunner, opts.onProgress, opts.equalizationRanges ?? firstPass?.channelRanges);
  const equalized = equalization?.convs ?? 0;
  if (firstPass && equalization) {
    for (const [t, r] of channelScaledRanges(firstPass.sites, equalization.scales, firstPass.pass)) firstPass.pass.ranges.set(t, r);
  }
  const prelusBefore = preluNames(float);
  const preluMode = opts.preluMode ?? 'mul-add';
  const preluRewrites = opts.wholePrelus === true ? [] : rewritePrelus(float, preluMode, new Set(opts.wholePrelus || []));
  const rewrittenNames = new Set(preluRewrites.map((r) => r.prelu));
  const wholePrelus = opts.wholePrelus ? prelusBefore.filter((p) => !rewrittenNames.has(p)) : [];
  nameNodes(float);
  // Planning turns float Constant nodes into initializers: exact, so the float graph may take it too.
  const plan = planQuantization(float, opts.exclude);
  if (plan.quantizedNodes.size === 0) throw new QuantizeError(`${name} has no operator srq can quantize (supported: ${[...ruleRegistry.keys()].join(', ')})`);
  const missing = plan.calibrationTensors().filter((t) => !opts.ranges?.has(t));
  const measured = missing.length === 0
    ? { ranges: new Map<string, Range>(), elements: new Map<string, number>(), runs: 0 }
    : await calibrate(float, missing, opts.tiles, {
      method,
      percentile: opts.percentile,
      createRunner: opts.createRunner,
      onProgress: opts.onProgress,
    }, firstPass?.pass);
  const calibration: CalibrationResult = { ...measured, ranges: new Map([...(opts.ranges ?? []), ...measured.ranges]) };
  const ranges = settleRanges(float, plan, calibration.ranges);
  // GPTQ's weights do not depend on ranges or exclusions: a later round's plan takes the ones it still quantizes.
  // Given weights are reused; convs they lack (a PRelu's pair-conv mix when round 1 had none) are rounded now.
  const gptqWeights = opts.gptq === false ? undefined : await withGptqWeights(float, plan, opts);
  // The QDQ model of a float graph at these ranges: a copy, planned again (the plan depends on structure only).
  const rewrite = (graph: ModelProto) => {
    const model = cloneModel(graph);
    const plan = planQuantization(model, opts.exclude);
    const targets = biasTargets(model.graph!, plan);
    const params = applyPlan(model, plan, ranges, activationType, gptqWeights);
    return { model, plan, params, targets };
  };
  let result = rewrite(float);
  let biasCorrection: BiasCorrection | undefined;
  let shifts: Map<string, Float64Array> | undefined;
  if (opts.biasCorrection !== false && result.targets.length > 0) {
    // Measure each conv's mean shift in the quantized graph, take it out of the float biases, rewrite again:
    // same weights and ranges, only the int32 biases differ. Shifts given by an earlier run are reused for the convs
    // still quantized here (a conv kept float needs none).
    if (opts.biasShifts) {
      shifts = new Map(result.targets.flatMap((t) => (opts.biasShifts!.has(t.bias) ? [[t.bias, opts.biasShifts!.get(t.bias)!] as const] : [])));
    } else {
      opts.onProgress?.(`bias correction: ${result.targets.length} convs`);
      shifts = await measureBiasShifts(result.model, result.targets, opts.tiles, opts.createRunner, opts.onProgress, opts.biasConvsPerSession);
    }
    const corrected = cloneModel(float);
    biasCorrection = correctBiases(corrected.graph!, shifts);
    result = rewrite(corrected);
  }
  const out = result.model;
  setMetadata(out, 'srq.version', SRQ_VERSION);
  setMetadata(out, 'srq.quantization', 'int8-static');
  setMetadata(out, 'srq.calibration', method === 'percentile' ? `percentile-${opts.percentile ?? 99.999}` : method);
  setMetadata(out, 'srq.calibration_tiles', `${opts.tiles.length}x${opts.tiles[0]!.width}x${opts.tiles[0]!.height}`);
  setMetadata(out, 'srq.calibration_sha256', await tilesHash(opts.tiles));
  setMetadata(out, 'srq.activations', activationType);
  if (biasCorrection) setMetadata(out, 'srq.bias_correction', `${biasCorrection.convs} convs`);
  if (equalized > 0) setMetadata(out, 'srq.equalization', `${equalized} convs`);
  if (gptqWeights && gptqWeights.size > 0) setMetadata(out, 'srq.gptq', `${gptqWeights.size} convs`);
  if (wholePrelus.length > 0) setMetadata(out, 'srq.prelu', preluRewrites.length === 0 ? 'whole' : `whole: ${wholePrelus.join(',')}`);
  else if (preluRewrites.length > 0 && preluMode !== 'mul-add') setMetadata(out, 'srq.prelu', preluMode);
  return {
    model: out, floatModel: float, plan: result.plan, params: result.params, calibration, preluRewrites, wholePrelus, ...(equalization ? { equalization } : {}),
    ...(opsetUpgrade ? { opsetUpgrade } : {}), ...(gptqWeights ? { gptqWeights } : {}), ...(biasCorrection && shifts ? { biasCorrection, biasShifts: shifts } : {}),
  };
}

/**
 * Calibration's min/max pass over the float model before equalization, with each equalization site's channels
 * (Real-ESRGAN x4plus: one pass over the tiles fewer, 1:45–2:03 of its job). Only where the plan after
 * equalization has the same tensors (no PRelu to rewrite, planned on a copy); otherwise undefined, and
 * equalization measures its channels in a pass of its own.
 */
async function minMaxBeforeEqualizing(float: ModelProto, opts: StaticQuantizeOptions) {
  const sites = equalizationSites(float);
  if (sites.length === 0) return undefined;
  const probe = cloneModel(float);
  if (opts.wholePrelus !== true && rewritePrelus(probe, opts.preluMode ?? 'mul-add', new Set(opts.wholePrelus || [])).length > 0) return undefined;
  nameNodes(probe);
  const tensors = planQuantization(probe, opts.exclude).calibrationTensors();
  const pass = await measureMinMax(float, tensors, opts.tiles, opts, siteTensors(sites));
  return { sites, pass, channelRanges: channelRangesOf(sites, pass) };
}

/** GPTQ weights for the planned convs: those given (an earlier run's) and, rounded now, any they lack. */
async function withGptqWeights(float: ModelProto, plan: QuantPlan, opts: StaticQuantizeOptions): Promise<ReadonlyMap<string, RoundedWeight>> {
  const given = opts.gptqWeights ?? new Map<string, RoundedWeight>();
  const added = await roundWeightsFromData(float, plan, opts.tiles, opts.createRunner, opts.onProgress, given);
  return added.size === 0 ? given : new Map([...given, ...added]);
}

/** Every node gets a name: the accuracy-aware search's layers and the simulation find a node by its name. */
function nameNodes(model: ModelProto): void {
  const nodes = model.graph?.node ?? [];
  if (nodes.every((n) => n.name)) return;
  // One set of the names in use, not Graph.uniqueName's per call: a large export may name none of its nodes.
  const used = new Set(nodes.flatMap((n) => [n.name ?? '', ...(n.output ?? [])]));
  for (const node of nodes) {
    if (node.name) continue;
    const base = `${node.opType ?? 'node'}_${node.output?.[0] ?? ''}`;
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    node.name = name;
    used.add(name);
  }
}

function preluNames(model: ModelProto): string[] {
  return (model.graph?.node ?? []).filter((n) => n.opType === 'PRelu' && (!n.domain || n.domain === 'ai.onnx')).map(preluName);
}
