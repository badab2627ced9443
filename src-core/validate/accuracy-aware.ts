// Accuracy-aware static INT8: quantize, validate against the float model on ground-truth photos, and while the
// drop exceeds the budget keep the most harmful layers in float, until it holds (the fallback loop of INC, NNCF and
// POT, which ORT's quantizer lacks). Its cost grows with √depth, not depth:
//  - calibration and bias correction run once: the model srq quantize made is round 1 (given as `first`, or made
//    here), and later rounds reuse its ranges and measured bias shifts (only activations the first plan did not
//    quantize are calibrated, once);
//  - every other candidate is first scored in the quantization simulation (simulated-rounds.ts): one float session
//    that computes the INT8 model with any chosen layers float, so ranking and searching load one model in all.
//    Layers are ranked by the error each adds alone (only it int8), blocks of layers first and then inside the
//    blocks that matter;
//  - the number k of top-ranked layers kept float starts from a guess (the ranking's errors as shares of the noise)
//    and is searched by galloping and bisection (O(log n) simulated rounds); the simulation's choice is then
//    validated as a real model, and k raised by real rounds while the real model misses (the simulation leaves a
//    tensor a float layer shares with an int8 neighbour unquantized, where the real model quantizes it).
// A "layer" is a quantized node together with the Relu/Clip folded into its output. The result is the model that
// keeps the fewest layers float within the budget: every layer kept float trades an int8 kernel for a float one
// between Q/DQ, so it is also the fastest. The ground-truth drop is not strictly monotone in k, so the search finds
// a small passing set, not always the smallest.
// Runtime-agnostic.
import { cropImage, type RasterImage } from '../image/raster.ts';
import { encodeModel } from '../onnx/model.ts';
import { Graph } from '../onnx/graph.ts';
import type { ModelProto } from '../onnx/types.ts';
import type { PreluRewrite } from '../optimize/prelu.ts';
import { calibrate, DEFAULT_CALIBRATION_METHOD } from '../quantize/calibrate.ts';
import { rasterToTensor } from '../quantize/calibration-tiles.ts';
import { floatTensors } from '../quantize/float-tensors.ts';
import type { Range } from '../quantize/rewrite.ts';
import { quantizeStatic, type StaticQuantizeOptions, type StaticQuantizeResult } from '../quantize/static.ts';
import { prepareInferenceModel } from '../inference-model.ts';
import { SimulatedRounds, type SimulatedScore } from './simulated-rounds.ts';
import type { ResolvedModel } from '../model/description.ts';
import type { Runner } from '../runtime/runner.ts';
import { dropMetricOf, gatedValue } from './gate.ts';
import { tileLatencies } from './latency.ts';
import type { DropMetric, QualityBudget, ValidationReport } from './schema.ts';
import { drops, validateModels } from './validate.ts';

export type { DropMetric, QualityBudget };

export interface BudgetOptions extends Omit<StaticQuantizeOptions, 'ranges'> {
  /** Ground-truth photos to validate on. */
  evalImages: readonly { name: string; image: RasterImage }[];
  /** What the model must meet: a largest mean drop against the float model, or a least fidelity to its output. */
  budget: QualityBudget;
  /**
   * Time FP32, all-int8 and the chosen model together at the end (result.speed); default true. The job passes false:
   * its validation of the chosen model times it anyway (on x4plus the extra timing took 86 s).
   */
  timeSpeed?: boolean;
  runtime: 'node' | 'web';
  threads?: number;
  /** Validation tile size (default 128). */
  tileSize?: number;
  /** Round 1, when the caller has already made it with these options (srq run's static INT8): not made again. */
  first?: StaticQuantizeResult;
  /**
   * Round 1's value on the budget's metric (its drop, or its fidelity) on the held-out photos, when the caller has
   * measured it. Outside the budget, the search aims at the error cut that value needs instead of the search photos'
   * own drop (which understated it fivefold on x4plus and was negative on x4fast): a drop scales about with the
   * output's error power, so the fidelity on the search photos must rise by 10·log10(heldOut / maxDrop) dB over
   * round 1's; for a fidelity budget, by minFidelity − heldOut.
   */
  heldOut?: number;
  /** Called after each validation round. */
  onStep?: (step: BudgetStep) => void;
  /** Called once the layers are ranked, most harmful first. */
  onRanking?: (ranking: readonly LayerSensitivity[]) => void;
}

export interface LayerSensitivity {
  /** The layer's main node, and every node it keeps float (the main node plus its folded activation). */
  layer: string;
  nodes: string[];
  opType: string;
  /**
   * MSE of the 8-bit output vs float's (levels²) with only this layer int8, in the simulation; for a layer of a
   * block not looked into, an equal part of its block's. Higher = more harmful.
   */
  error: number;
}

export interface BudgetStep {
  round: number;
  /** Layers kept float by the search (besides the caller's own exclusions), by main node name. */
  keptFloat: string[];
  /** Every node those layers keep float (with their folded activations; a PRelu by its own name): `exclude`. */
  floatNodes: string[];
  /** How many layers could be kept float. */
  layers: number;
  /** Mean drop on the budget's drop metric (PSNR-Y for a fidelity budget), and the worst image's. */
  drop: number;
  worstImageDrop: number;
  /** Mean RGB PSNR of the output against the float model's (dB). */
  fidelity: number;
  /** FP32 time / this model's time, both measured in this round (higher = faster); absent for simulated rounds. */
  speedup?: number;
  /** Model size; absent for simulated rounds. */
  bytes?: number;
  meets: boolean;
  /** Scored in the simulation (no model made): a guide for the search, never the result. */
  simulated: boolean;
  /** The fidelity (dB) this round had to reach: a fidelity budget's, or the one a held-out drop over budget set. */
  fidelityAim?: number;
}

export interface BudgetResult {
  /** The model with the fewest layers float within the budget; absent when none is. */
  best?: { quantized: StaticQuantizeResult; step: BudgetStep; report: ValidationReport };
  steps: BudgetStep[];
  ranking: LayerSensitivity[];
  /**
   * Median ms per calibration-sized tile of FP32, the all-int8 model and the chosen one, measured together at the
   * end (a round's own timing is too short and noisy to compare rounds by).
   */
  speed?: { tile: number; fp32Ms: number; allInt8Ms: number; bestMs: number };
}

export async function quantizeWithinBudget(resolved: ResolvedModel, opts: BudgetOptions): Promise<BudgetResult> {
  const { model, description } = resolved;
  const { budget } = opts;
  const metric = dropMetricOf(budget);
  const userExclude = opts.exclude ?? [];
  const steps: BudgetStep[] = [];
  let best: BudgetResult['best'];
  let fidelityAim: number | undefined;

  // Round 1 is exactly what srq quantize makes; later rounds reuse its ranges, equalization, GPTQ weights and bias shifts plus, measured once,
  // the ranges of every other float activation (a layer kept float can leave a neighbour quantizing a tensor the
  // first plan did not).
  const first = opts.first ?? (await quantizeStatic(model, opts));
  const layers = layersOf(first);
  // A rewritten PRelu is one layer: kept float, it is the PRelu itself again, excluded like any float node (what the
  // simulation computes with its four int8 ops float), not those four ops in float.
  const prelus = new Set(first.preluRewrites.map((r) => r.prelu));
  const floatNodesOf = (kept: readonly LayerSensitivity[]) => kept.flatMap((l) => (prelus.has(l.layer) ? [l.layer] : l.nodes));
  const wholePrelusOf = (kept: readonly LayerSensitivity[]) => kept.filter((l) => prelus.has(l.layer)).map((l) => l.layer);
  let ranges: Map<string, Range> | undefined;
  const quantizeKeeping = async (kept: readonly LayerSensitivity[]) => {
    ranges ??= new Map([...first.calibration.ranges, ...(await calibrateTheRest(first, opts))]);
    return quantizeStatic(model, {
      ...opts, exclude: [...userExclude, ...floatNodesOf(kept)], wholePrelus: [...first.wholePrelus, ...wholePrelusOf(kept)],
      ranges, ...(first.biasShifts ? { biasShifts: first.biasShifts } : {}),
      ...(first.equalization ? { equalizationRanges: first.equalization.ranges } : {}),
      ...(first.gptqWeights ? { gptqWeights: first.gptqWeights } : {}),
    });
  };
  const record = (keptFloat: readonly LayerSensitivity[], scores: Pick<BudgetStep, 'drop' | 'worstImageDrop' | 'fidelity'>, extra: Partial<BudgetStep> = {}) => {
    const step: BudgetStep = {
      round: steps.length + 1,
      keptFloat: keptFloat.map((l) => l.layer),
      floatNodes: floatNodesOf(keptFloat),
      layers: layers.length,
      ...scores,
      meets: fidelityAim !== undefined ? scores.fidelity >= fidelityAim : budget.metric !== 'fidelity' && scores.drop <= budget.maxDrop,
      simulated: false,
      ...(fidelityAim !== undefined ? { fidelityAim } : {}),
      ...extra,
    };
    steps.push(step);
    opts.onStep?.(step);
    return step;
  };

  // The FP32 file's size, for reports: encoded once (x4plus: 67 MB), not every round.
  let fp32Bytes: number | undefined;
  const validateRound = async (quantized: StaticQuantizeResult) => {
    const bytes = encodeModel(quantized.model);
    fp32Bytes ??= encodeModel(model).length;
    const { report } = await validateModels(
      { path: 'fp32', model, bytes: fp32Bytes },
      [{ path: 'int8', model: quantized.model, bytes: bytes.length }],
      {
        images: opts.evalImages,
        createRunner: opts.createRunner,
        runtime: opts.runtime,
        ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
        tileSize: opts.tileSize ?? 128,
        description,
        onProgress: opts.onProgress,
      },
    );
    const c = report.candidates[0]!;
    return {
      report,
      drop: gatedValue(metric, c),
      worstImageDrop: Math.max(...c.images.map((img) => gatedValue(metric, img))),
      fidelity: c.mean.fidelity ?? Infinity,
      speedup: report.reference.latency.seconds / c.latency.seconds,
      bytes: bytes.length,
    };
  };
  const recordRound = (quantized: StaticQuantizeResult, keptFloat: readonly LayerSensitivity[], round: Awaited<ReturnType<typeof validateRound>>) => {
    const { report, ...scores } = round;
    const step = record(keptFloat, scores);
    if (step.meets && (!best || step.keptFloat.length < best.step.keptFloat.length)) best = { quantized, step, report };
    return step.meets;
  };
  const tryModel = async (quantized: StaticQuantizeResult, keptFloat: readonly LayerSensitivity[]) => recordRound(quantized, keptFloat, await validateRound(quantized));

  const ranking: LayerSensitivity[] = [];
  // Round 1 on the search photos. The aim is a fidelity there when the budget is one (moved by what the held-out
  // photos measured against the search photos), or when a held-out drop over the budget says what gain it needs.
  const round1 = await validateRound(first);
  const heldOut = opts.heldOut;
  if (budget.metric === 'fidelity') {
    fidelityAim = heldOut !== undefined && Number.isFinite(round1.fidelity) ? round1.fidelity + (budget.minFidelity - heldOut) : budget.minFidelity;
  } else if (heldOut !== undefined && heldOut > budget.maxDrop && Number.isFinite(round1.fidelity)) {
    fidelityAim = round1.fidelity + 10 * Math.log10(heldOut / budget.maxDrop);
  }
  recordRound(first, [], round1);
  const firstStep = steps[0]!;
  if (!firstStep.meets && layers.length > 1) {
    const most = layers.length - 1;
    const sim = await SimulatedRounds.create(first, layers, {
      images: opts.evalImages,
      createRunner: opts.createRunner,
      description,
      ...(opts.tileSize !== undefined ? { tileSize: opts.tileSize } : {}),
      drop: (reference, candidate) => gatedValue(metric, { drop: drops(reference, candidate) }),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    try {
      // The share of round 1's error (power) the budget allows: from the fidelity gain aimed at, or the drop's ratio.
      const keep = fidelityAim !== undefined ? 10 ** (-(fidelityAim - round1.fidelity) / 10) : (budget as { maxDrop: number }).maxDrop / firstStep.drop;
      const ranked = await sim.rank(Math.max(0, 1 - keep));
      // Rewritten PRelus first (most harmful first), then the other layers: a PRelu kept whole costs an element-wise
      // pass in float and keeps every conv int8, where a conv kept float gives up its int8 kernel. On Real-ESRGAN
      // x4fast with --min-fidelity 40, by error alone the search kept 20 of 34 convs float (39.8% of MACs int8).
      // (Residual sums are not moved up: a sum's error alone counts its inputs' rounding, which keeping the sum float
      // does not remove while its neighbours are int8. The job tries all of them float before the search instead.)
      ranking.push(...ranked.ranking.filter((l) => prelus.has(l.layer)), ...ranked.ranking.filter((l) => !prelus.has(l.layer)));
      opts.onRanking?.(ranking);
      const index = new Map(layers.map((l, i) => [l.layer, i]));
      const simulated = new Map<number, SimulatedScore>([[0, ranked.allInt8]]);
      const simScore = async (k: number) => {
        if (!simulated.has(k)) simulated.set(k, await sim.score(ranking.slice(0, k).map((l) => index.get(l.layer)!)));
        return simulated.get(k)!;
      };
      // The simulation measures changes: its drop is anchored to the last real round (drop there plus what the
      // simulation says changes from there), as its own rounding differs from the int8 kernels' on deep models.
      let anchor = { k: 0, real: firstStep };
      const simMeets = async (k: number) => {
        const scored = await simScore(k);
        const at = await simScore(anchor.k);
        const shift = anchor.real.drop - at.drop;
        const fidelity = scored.fidelity + (anchor.real.fidelity - at.fidelity);
        return record(ranking.slice(0, k), { drop: scored.drop + shift, worstImageDrop: scored.worstImageDrop + shift, fidelity }, { simulated: true }).meets;
      };
      let atLeast = 1;
      let guess = predictLayers(ranking, keep);
      // Simulated search, then its choice as a real model; a miss re-anchors the simulation there and searches on.
      for (let tries = 0; tries < 3 && atLeast <= most; tries++) {
        // To within 1% of the layers: on a deep model the last few bisections cost more than they save.
        const k = await searchFewestFloat(most, guess, simMeets, atLeast, Math.max(1, Math.floor(layers.length / 100)));
        if (k === undefined) break;
        const kept = ranking.slice(0, k);
        if (await tryModel(await quantizeKeeping(kept), kept)) break;
        anchor = { k, real: steps[steps.length - 1]! };
        atLeast = k + 1;
        guess = atLeast;
      }
    } finally {
      await sim.release();
    }
    // Still nothing real within the aim: the almost-float model says how far off the budget is.
    if (!best) {
      const kept = ranking.slice(0, most);
      await tryModel(await quantizeKeeping(kept), kept);
    }
  }
  const result: BudgetResult = { steps, ranking };
  if (best) result.best = best;
  if (best && opts.timeSpeed !== false) result.speed = await measureSpeed(resolved, first.model, best.quantized.model, opts);
  return result;
}

async function measureSpeed(fp32: ResolvedModel, allInt8: ModelProto, chosen: ModelProto, opts: BudgetOptions): Promise<BudgetResult['speed']> {
  opts.onProgress?.('timing FP32, all-int8 and the chosen model');
  const models = allInt8 === chosen ? [fp32.model, allInt8] : [fp32.model, allInt8, chosen];
  const runners: Runner[] = [];
  try {
    for (const m of models) runners.push(await opts.createRunner(prepareInferenceModel({ model: m, description: fp32.description }).bytes));
    const tile = rasterToTensor(opts.tiles[0]!);
    const [f, a, c] = await tileLatencies(runners, tile);
    return { tile: opts.tiles[0]!.width, fp32Ms: f!.medianMs, allInt8Ms: a!.medianMs, bestMs: (c ?? a)!.medianMs };
  } finally {
    for (const r of runners) await r.release();
  }
}

/**
 * How many top-ranked layers to keep float, guessed from the ranking: if each layer's error (measured alone) is its
 * share of the noise, keeping the top k float leaves the share r_k of it; the first k with r_k ≤ `keep` (the share
 * of round 1's error the budget allows: maxDrop / drop, or 10^(−gain/10) for a fidelity gain in dB).
 */
export function predictLayers(ranking: readonly LayerSensitivity[], keep: number): number {
  const total = ranking.reduce((n, l) => n + l.error, 0);
  let removed = 0;
  for (let k = 1; k < ranking.length; k++) {
    removed += ranking[k - 1]!.error;
    if (total > 0 && 1 - removed / total <= keep) return k;
  }
  return Math.max(1, ranking.length - 1);
}

/**
 * The smallest k in [atLeast, most] with meets(k), assuming it is (roughly) monotone: from the guess, gallop up (1,
 * 2, 4... past it) until one passes or `most` fails, or step down while it passes; then bisect between the largest
 * failing and the smallest passing k, to `within` of it. A guess that is right costs two rounds (k and k − 1), one
 * when it is atLeast.
 */
export async function searchFewestFloat(most: number, guess: number, meets: (k: number) => Promise<boolean>, atLeast = 1, within = 1): Promise<number | undefined> {
  if (most < atLeast) return undefined;
  let k = Math.min(Math.max(atLeast, guess), most);
  let fail = atLeast - 1;
  let pass: number | undefined;
  if (await meets(k)) {
    let lowest = k;
    for (let step = 1; lowest - step > fail; step *= 2) {
      const down: number = lowest - step;
      if (!(await meets(down))) {
        fail = down;
        break;
      }
      lowest = down;
    }
    pass = lowest;
  } else {
    fail = k;
    for (let step = 1; fail < most; step *= 2) {
      k = Math.min(fail + step, most);
      if (await meets(k)) {
        pass = k;
        break;
      }
      fail = k;
    }
  }
  while (pass !== undefined && pass - fail > within) {
    const mid = (fail + pass) >> 1;
    if (await meets(mid)) pass = mid;
    else fail = mid;
  }
  return pass;
}

/**
 * Ranges of the float activations the first calibration did not measure, on a quarter of the tiles (at least 8): a
 * pass costs the whole model's runs however few tensors it measures (x4plus: 4.7 min on 32 tiles), and these are
 * only the tensors a kept-float layer leaves a neighbour quantizing.
 */
async function calibrateTheRest(first: StaticQuantizeResult, opts: BudgetOptions): Promise<Map<string, Range>> {
  const graph = new Graph(first.floatModel.graph!);
  const rest = [...floatTensors(graph)].filter((t) => !graph.initializer(t) && !first.calibration.ranges.has(t));
  if (rest.length === 0) return new Map();
  const tiles = opts.tiles.slice(0, Math.max(8, Math.ceil(opts.tiles.length / 4)));
  const { ranges } = await calibrate(first.floatModel, rest, tiles, {
    method: opts.method ?? DEFAULT_CALIBRATION_METHOD,
    ...(opts.percentile !== undefined ? { percentile: opts.percentile } : {}),
    createRunner: opts.createRunner,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  return ranges;
}

/**
 * Named quantized nodes grouped into layers: each node with the Relu/Clip nodes folded into its output, and each
 * rewritten PRelu's int8 ops as one layer named after that PRelu (op type PRelu).
 */
export function layersOf(q: StaticQuantizeResult): { layer: string; nodes: string[]; opType: string }[] {
  const quantized = new Set([...q.plan.quantizedNodes].map((n) => n.name).filter(Boolean));
  const producer = new Map<string, string>();
  for (const n of q.floatModel.graph!.node ?? []) for (const o of n.output ?? []) producer.set(o, n.name ?? '');
  const folded = new Map<string, string[]>();
  for (const f of q.plan.folded) {
    const into = producer.get(f.input?.[0] ?? '');
    if (f.name && into && quantized.has(into)) folded.set(into, [...(folded.get(into) ?? []), f.name]);
  }
  const foldedNames = new Set([...folded.values()].flat());
  const rewriteOf = new Map(q.preluRewrites.flatMap((r) => r.nodes.map((n) => [n, r] as const)));
  const layers: { layer: string; nodes: string[]; opType: string }[] = [];
  const listed = new Set<PreluRewrite>();
  for (const n of q.plan.quantizedNodes) {
    if (!n.name || foldedNames.has(n.name)) continue;
    const rewrite = rewriteOf.get(n.name);
    if (!rewrite) layers.push({ layer: n.name, nodes: [n.name, ...(folded.get(n.name) ?? [])], opType: n.opType ?? '' });
    else if (!listed.has(rewrite)) {
      listed.add(rewrite);
      layers.push({ layer: rewrite.prelu, nodes: [...rewrite.nodes], opType: 'PRelu' });
    }
  }
  return layers;
}

/** Side of the centre crops the search validates on: each round costs about as much as two small photos. */
export const SEARCH_CROP = 256;

/**
 * What the search ranks and validates on: centre crops of the calibration photos, so the held-out evaluation photos
 * stay unseen until they confirm the final choice.
 */
export function searchPhotos(images: readonly { name: string; image: RasterImage }[]): { name: string; image: RasterImage }[] {
  return images.map(({ name, image }) => {
    const [w, h] = [Math.min(SEARCH_CROP, image.width), Math.min(SEARCH_CROP, image.height)];
    return { name, image: cropImage(image, (image.width - w) >> 1, (image.height - h) >> 1, w, h) };
  });
}
