// Accuracy-aware static INT8: quantize, validate against the float model on ground-truth photos, and while the
// drop exceeds the budget keep the most harmful layers in float, until it holds (the fallback loop of INC, NNCF and
// POT, which ORT's quantizer lacks). Cheap by construction:
//  - calibration runs once: ranges do not depend on which nodes stay float, so every round reuses them;
//  - layers are ranked once, by measured sensitivity: how much the output error (vs float, on a few calibration
//    tiles) shrinks when that layer alone stays float; no ground truth needed, one short run per layer;
//  - the number k of top-ranked layers kept float is searched by doubling, then bisection: O(log n) validation
//    rounds, each a full validation of one candidate against the float model.
// The result is the fastest validated model within the budget (speed measured against FP32 in the same round).
// Runtime-agnostic.
import type { RasterImage } from '../image/raster.ts';
import { encodeModel } from '../onnx/model.ts';
import type { ModelProto } from '../onnx/types.ts';
import { rasterToTensor } from '../quantize/calibration-tiles.ts';
import { quantizeStatic, type StaticQuantizeOptions, type StaticQuantizeResult } from '../quantize/static.ts';
import type { Runner } from '../runtime/runner.ts';
import { gatedValue } from './gate.ts';
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
  node: string;
  opType: string;
  /** Output MSE (vs float, [0,1] scale) removed by keeping this layer alone in float; higher = more harmful. */
  gain: number;
}

export interface BudgetStep {
  round: number;
  /** Node names kept float by the search (besides the caller's own exclusions). */
  keptFloat: string[];
  /** How many layers could be kept float. */
  candidates: number;
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
  /** The fastest model within the budget, absent when none is. */
  best?: { quantized: StaticQuantizeResult; step: BudgetStep; report: ValidationReport };
  steps: BudgetStep[];
  ranking: LayerSensitivity[];
}

export async function quantizeWithinBudget(model: ModelProto, opts: BudgetOptions): Promise<BudgetResult> {
  const metric = opts.metric ?? 'psnr-y';
  const userExclude = opts.exclude ?? [];
  const steps: BudgetStep[] = [];
  const passing: NonNullable<BudgetResult['best']>[] = [];
  let candidates = 0;

  const first = await quantizeStatic(model, opts);
  const ranges = first.calibration.ranges;
  const quantizeKeeping = (names: readonly string[]) => quantizeStatic(model, { ...opts, exclude: [...userExclude, ...names], ranges });

  const tryModel = async (quantized: StaticQuantizeResult, keptFloat: string[]): Promise<boolean> => {
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
        onProgress: opts.onProgress,
      },
    );
    const c = report.candidates[0]!;
    const drop = gatedValue(metric, c);
    const step: BudgetStep = {
      round: steps.length + 1,
      keptFloat,
      candidates,
      drop,
      worstImageDrop: Math.max(...c.images.map((img) => gatedValue(metric, img))),
      fidelity: c.mean.fidelity ?? Infinity,
      speedup: report.reference.latency.seconds / c.latency.seconds,
      bytes: bytes.length,
      meets: drop <= opts.maxDrop,
    };
    steps.push(step);
    opts.onStep?.(step);
    if (step.meets) passing.push({ quantized, step, report });
    return step.meets;
  };

  const ranking: LayerSensitivity[] = [];
  candidates = [...first.plan.quantizedNodes].filter((n) => n.name).length;
  if (!(await tryModel(first, []))) {
    ranking.push(...(await rankLayers(model, first, quantizeKeeping, opts)));
    candidates = ranking.length;
    opts.onRanking?.(ranking);
    const keep = (k: number) => ranking.slice(0, k).map((l) => l.node);
    const meetsWith = async (k: number) => tryModel(await quantizeKeeping(keep(k)), keep(k));
    // Doubling up to "all but one layer float" (the almost-float model), then bisection between fail and pass.
    const most = ranking.length - 1;
    let fail = 0;
    let pass: number | undefined;
    for (let k = 1; most >= 1; k = Math.min(k * 2, most)) {
      if (await meetsWith(k)) {
        pass = k;
        break;
      }
      fail = k;
      if (k === most) break;
    }
    while (pass !== undefined && pass - fail > 1) {
      const mid = (fail + pass) >> 1;
      if (await meetsWith(mid)) pass = mid;
      else fail = mid;
    }
  }
  const best = passing.reduce<BudgetResult['best']>((a, b) => (!a || b.step.speedup > a.step.speedup ? b : a), undefined);
  return { ...(best ? { best } : {}), steps, ranking };
}

/**
 * Every named quantized node, most harmful first: the output MSE against the float model over a few calibration
 * tiles, fully quantized minus with that node alone kept float.
 */
async function rankLayers(
  model: ModelProto,
  first: StaticQuantizeResult,
  quantizeKeeping: (names: readonly string[]) => Promise<StaticQuantizeResult>,
  opts: BudgetOptions,
): Promise<LayerSensitivity[]> {
  const tiles = opts.tiles.slice(0, opts.rankingTiles ?? 4).map(rasterToTensor);
  const outputsOf = async (m: ModelProto) => {
    const runner: Runner = await opts.createRunner(encodeModel(m));
    try {
      const outs: Float32Array[] = [];
      for (const t of tiles) outs.push((await runner.run(t.data, t.dims)).data);
      return outs;
    } finally {
      await runner.release();
    }
  };
  const reference = await outputsOf(first.floatModel);
  const error = async (m: ModelProto) => {
    const outs = await outputsOf(m);
    let sum = 0;
    let n = 0;
    outs.forEach((o, i) => {
      const r = reference[i]!;
      for (let j = 0; j < o.length; j++) sum += (o[j]! - r[j]!) ** 2;
      n += o.length;
    });
    return sum / n;
  };
  const base = await error(first.model);
  const nodes = [...first.plan.quantizedNodes].filter((n) => n.name);
  const ranking: LayerSensitivity[] = [];
  for (const [i, node] of nodes.entries()) {
    opts.onProgress?.(`ranking layers: ${i + 1}/${nodes.length} (${node.name})`);
    ranking.push({ node: node.name!, opType: node.opType ?? '', gain: base - (await error((await quantizeKeeping([node.name!])).model)) });
  }
  return ranking.sort((a, b) => b.gain - a.gain);
}
