// Accuracy-aware static INT8: quantize, validate against the float model on ground-truth photos, and while the
// drop exceeds the budget keep the most harmful layers in float, until it holds (the fallback loop of INC, NNCF and
// POT, which ORT's quantizer lacks). Cheap by construction:
//  - calibration runs once (plus once for the activations the first plan did not quantize): ranges do not depend on
//    which layers stay float, so no round calibrates again;
//  - layers are ranked once, by measured sensitivity: the output error (vs float, on a few calibration tiles) of
//    the model with only that layer quantized. Ranking by "this layer alone kept float" does not work: its tensors
//    stay quantized by its neighbours, and un-folding its Relu can even add error (measured on esrgan-slim-x2);
//  - the number k of top-ranked layers kept float starts from a guess (the ranking's errors as shares of the noise)
//    and is searched from there by galloping and bisection: two or three validation rounds when the guess is right,
//    O(log n) otherwise, each one full validation of one candidate against the float model.
// A "layer" is a quantized node together with the Relu/Clip folded into its output. The result is the model that
// keeps the fewest layers float within the budget: every layer kept float trades an int8 kernel for a float one
// between Q/DQ, so it is also the fastest (speed is measured each round, but one round's timing is too noisy to
// choose by). The ground-truth drop is not strictly monotone in k (measured: slim-x4 with its top layer float lost
// 0.008 dB, with its top four 0.021 dB), so the search finds a small passing set, not always the smallest.
// Runtime-agnostic.
import { cropImage, type RasterImage } from '../image/raster.ts';
import { encodeModel } from '../onnx/model.ts';
import { Graph } from '../onnx/graph.ts';
import type { ModelProto } from '../onnx/types.ts';
import { calibrate, DEFAULT_CALIBRATION_METHOD } from '../quantize/calibrate.ts';
import { rasterToTensor } from '../quantize/calibration-tiles.ts';
import { floatTensors } from '../quantize/float-tensors.ts';
import { QuantizeError, type Range } from '../quantize/rewrite.ts';
import { quantizeStatic, type StaticQuantizeOptions, type StaticQuantizeResult } from '../quantize/static.ts';
import { prepareInferenceModel } from '../inference-model.ts';
import type { ResolvedModel } from '../model/description.ts';
import type { Runner } from '../runtime/runner.ts';
import { stepProgress } from '../progress.ts';
import { gatedValue } from './gate.ts';
import { tileLatencies } from './latency.ts';
import type { GateMetric, ValidationReport } from './schema.ts';
import { validateModels } from './validate.ts';

export type DropMetric = Exclude<GateMetric, 'fidelity'>;

export interface BudgetOptions extends Omit<StaticQuantizeOptions, 'ranges'> {
  /** Ground-truth photos to validate on. */
  evalImages: readonly { name: string; image: RasterImage }[];
  /** Largest allowed mean drop against the float model (dB; SSIM units for ssim). */
  maxDrop: number;
  /** Default psnr-y. */
  metric?: DropMetric;
  runtime: 'node' | 'web';
  threads?: number;
  /** Validation tile size (default 128). */
  tileSize?: number;
  /** Calibration tiles used to rank layers (default 4). */
  rankingTiles?: number;
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
  /** MSE of the 8-bit output vs float's (levels²) with only this layer quantized; higher = more harmful. */
  error: number;
}

export interface BudgetStep {
  round: number;
  /** Layers kept float by the search (besides the caller's own exclusions), by main node name. */
  keptFloat: string[];
  /** Every node those layers keep float (with their folded activations): what was passed as `exclude`. */
  floatNodes: string[];
  /** How many layers could be kept float. */
  layers: number;
  /** Mean drop on the metric, and the worst image's. */
  drop: number;
  worstImageDrop: number;
  /** Mean RGB PSNR of the output against the float model's (dB). */
  fidelity: number;
  /** FP32 time / this model's time, both measured in this round (higher = faster). */
  speedup: number;
  bytes: number;
  meets: boolean;
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
  const metric = opts.metric ?? 'psnr-y';
  const userExclude = opts.exclude ?? [];
  const steps: BudgetStep[] = [];
  let best: BudgetResult['best'];

  // Round 1 is exactly what srq quantize makes; later rounds reuse its ranges plus, measured once, those of every
  // other float activation (a layer kept float can leave a neighbour quantizing a tensor the first plan did not).
  const first = await quantizeStatic(model, opts);
  const layers = layersOf(first);
  let ranges: Map<string, Range> | undefined;
  const quantizeKeeping = async (nodes: readonly string[]) => {
    ranges ??= new Map([...first.calibration.ranges, ...(await calibrateTheRest(first, opts))]);
    return quantizeStatic(model, { ...opts, exclude: [...userExclude, ...nodes], ranges });
  };

  const tryModel = async (quantized: StaticQuantizeResult, keptFloat: readonly LayerSensitivity[]): Promise<boolean> => {
    const bytes = encodeModel(quantized.model);
    const { report } = await validateModels(
      { path: 'fp32', model, bytes: encodeModel(model).length },
      [{ path: keptFloat.length ? `int8 (${keptFloat.length} float)` : 'int8', model: quantized.model, bytes: bytes.length }],
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
    const drop = gatedValue(metric, c);
    const step: BudgetStep = {
      round: steps.length + 1,
      keptFloat: keptFloat.map((l) => l.layer),
      floatNodes: keptFloat.flatMap((l) => l.nodes),
      layers: layers.length,
      drop,
      worstImageDrop: Math.max(...c.images.map((img) => gatedValue(metric, img))),
      fidelity: c.mean.fidelity ?? Infinity,
      speedup: report.reference.latency.seconds / c.latency.seconds,
      bytes: bytes.length,
      meets: drop <= opts.maxDrop,
    };
    steps.push(step);
    opts.onStep?.(step);
    if (step.meets && (!best || step.keptFloat.length < best.step.keptFloat.length)) best = { quantized, step, report };
    return step.meets;
  };

  const ranking: LayerSensitivity[] = [];
  const firstStep = (await tryModel(first, []), steps[0]!);
  if (!firstStep.meets) {
    ranking.push(...(await rankLayers(first, layers, quantizeKeeping, opts)));
    opts.onRanking?.(ranking);
    const tried = new Map<number, boolean>();
    const meetsWith = async (k: number) => {
      if (!tried.has(k)) {
        const kept = ranking.slice(0, k);
        tried.set(k, await tryModel(await quantizeKeeping(kept.flatMap((l) => l.nodes)), kept));
      }
      return tried.get(k)!;
    };
    await searchFewestFloat(ranking.length - 1, predictLayers(ranking, firstStep.drop, opts.maxDrop), meetsWith);
  }
  const result: BudgetResult = { steps, ranking };
  if (best) result.best = best;
  if (best) result.speed = await measureSpeed(resolved, first.model, best.quantized.model, opts);
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
 * share of the noise, keeping the top k float leaves the share r_k, and the drop scales to about drop·r_k.
 */
export function predictLayers(ranking: readonly LayerSensitivity[], drop: number, maxDrop: number): number {
  const total = ranking.reduce((n, l) => n + l.error, 0);
  let removed = 0;
  for (let k = 1; k < ranking.length; k++) {
    removed += ranking[k - 1]!.error;
    if (total > 0 && drop * (1 - removed / total) <= maxDrop) return k;
  }
  return Math.max(1, ranking.length - 1);
}

/**
 * The smallest k in [1, most] with meets(k), assuming it is (roughly) monotone: from the guess, gallop up (1, 2,
 * 4... past it) until one passes or `most` fails, or step down while it passes; then bisect between the largest
 * failing and the smallest passing k. A guess that is right costs two rounds (k and k − 1).
 */
export async function searchFewestFloat(most: number, guess: number, meets: (k: number) => Promise<boolean>): Promise<number | undefined> {
  if (most < 1) return undefined;
  let k = Math.min(Math.max(1, guess), most);
  let fail = 0;
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
  while (pass !== undefined && pass - fail > 1) {
    const mid = (fail + pass) >> 1;
    if (await meets(mid)) pass = mid;
    else fail = mid;
  }
  return pass;
}

/** Ranges of the float activations the first calibration did not measure. */
async function calibrateTheRest(first: StaticQuantizeResult, opts: BudgetOptions): Promise<Map<string, Range>> {
  const graph = new Graph(first.floatModel.graph!);
  const rest = [...floatTensors(graph)].filter((t) => !graph.initializer(t) && !first.calibration.ranges.has(t));
  if (rest.length === 0) return new Map();
  const { ranges } = await calibrate(first.floatModel, rest, opts.tiles, {
    method: opts.method ?? DEFAULT_CALIBRATION_METHOD,
    ...(opts.percentile !== undefined ? { percentile: opts.percentile } : {}),
    createRunner: opts.createRunner,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  return ranges;
}

/** Named quantized nodes grouped into layers: each node with the Relu/Clip nodes folded into its output. */
function layersOf(q: StaticQuantizeResult): { layer: string; nodes: string[]; opType: string }[] {
  const quantized = new Set([...q.plan.quantizedNodes].map((n) => n.name).filter(Boolean));
  const producer = new Map<string, string>();
  for (const n of q.floatModel.graph!.node ?? []) for (const o of n.output ?? []) producer.set(o, n.name ?? '');
  const folded = new Map<string, string[]>();
  for (const f of q.plan.folded) {
    const into = producer.get(f.input?.[0] ?? '');
    if (f.name && into && quantized.has(into)) folded.set(into, [...(folded.get(into) ?? []), f.name]);
  }
  const foldedNames = new Set([...folded.values()].flat());
  return [...q.plan.quantizedNodes]
    .filter((n) => n.name && !foldedNames.has(n.name))
    .map((n) => ({ layer: n.name!, nodes: [n.name!, ...(folded.get(n.name!) ?? [])], opType: n.opType ?? '' }));
}

/**
 * Layers, most harmful first: the 8-bit output's error against the float model's, over a few calibration tiles,
 * of the model in which only that layer is quantized.
 */
async function rankLayers(
  first: StaticQuantizeResult,
  layers: readonly { layer: string; nodes: string[]; opType: string }[],
  quantizeKeeping: (nodes: readonly string[]) => Promise<StaticQuantizeResult>,
  opts: BudgetOptions,
): Promise<LayerSensitivity[]> {
  const tiles = opts.tiles.slice(0, opts.rankingTiles ?? 4).map(rasterToTensor);
  // Outputs as the 8-bit image srq writes: a layer whose only effect is to put values on the 1/255 grid (the
  // DepthToSpace after a [0,1] Clip) then costs nothing, as it costs nothing in the served image.
  const outputsOf = async (m: ModelProto) => {
    const runner = await opts.createRunner(encodeModel(m));
    try {
      const outs: Uint8Array[] = [];
      for (const t of tiles) outs.push(Uint8Array.from((await runner.run(t.data, t.dims)).data, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255)));
      return outs;
    } finally {
      await runner.release();
    }
  };
  const reference = await outputsOf(first.floatModel);
  const allNodes = layers.flatMap((l) => l.nodes);
  /** Output MSE (levels²) against float of the model with only this layer quantized. */
  const errorAlone = async (layer: { nodes: string[] }): Promise<number> => {
    let alone;
    try {
      alone = await quantizeKeeping(allNodes.filter((n) => !layer.nodes.includes(n)));
    } catch (e) {
      // Nothing left to quantize with only this layer (it quantizes only alongside its neighbours): harmless alone.
      if (e instanceof QuantizeError) return 0;
      throw e;
    }
    const outs = await outputsOf(alone.model);
    let sum = 0;
    let count = 0;
    outs.forEach((o, t) => {
      const r = reference[t]!;
      for (let j = 0; j < o.length; j++) sum += (o[j]! - r[j]!) ** 2;
      count += o.length;
    });
    return sum / count;
  };
  const ranking: LayerSensitivity[] = [];
  const layerDone = stepProgress('ranking layers:', layers.length, opts.onProgress);
  for (const [i, layer] of layers.entries()) {
    ranking.push({ ...layer, error: await errorAlone(layer) });
    layerDone(i + 1, layer.layer);
  }
  return ranking.sort((a, b) => b.error - a.error);
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
