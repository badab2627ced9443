// The job's time plan for one model: what each step will take on this runner, estimated before any work starts from
// one timed FP32 run of a calibration tile, so that a model that cannot finish within the time budget is refused at
// once with what it would need, instead of being killed by the runner's timeout an hour later.
// Each step's cost in FP32 tile runs was measured on Real-ESRGAN x4plus and the corpus (README, "Big models"):
// calibration with histograms (mse, percentile, entropy) 2.6 passes over the tiles, min/max 1.35; bias correction one
// run per tile per 48-conv part; validation one run of each model per tile of each photo, int8 at about half FP32's
// cost; the fallback search one simulated run per candidate over the search photos. Runtime-agnostic.
import type { ModelDescription } from '../../src-core/model/description.ts';
import { formatDuration } from '../../src-core/progress.ts';
import type { CalibrationMethod } from '../../src-core/quantize/calibrate.ts';
import { CONVS_PER_SESSION } from '../../src-core/quantize/bias-correction.ts';
import { gptqTileRuns } from '../../src-core/quantize/gptq.ts';
import { planTiles } from '../../src-core/tiling/tile-plan.ts';
import { tileContext, tileSizeFor } from '../../src-core/tiling/upscale.ts';
import type { Variant } from './options.ts';

/** Default time budget per model (minutes): what srq plans within unless told otherwise. */
export const DEFAULT_TIME_BUDGET = 60;

/** Runs per calibration tile of each step, in FP32 tile runs (see above). */
const CALIBRATION_PASSES: Record<CalibrationMethod, number> = { minmax: 1.35, mse: 2.6, percentile: 2.6, entropy: 2.6 };
/**
 * Activation equalization's per-channel pass, where it needs one of its own (PRelus rewritten between it and
 * calibration; elsewhere calibration's min/max pass measures its channels), in FP32 tile runs (x4plus, measured
 * when it ran there: 3.9 s a tile, one FP32 run 3.8 s).
 */
const EQUALIZATION_PASS = 1;
/**
 * GPTQ's factorisations and rounding per conv, in seconds (JS on one thread, so not in tile runs): measured on this
 * 2-core machine 0.4 s a conv on x4plus (351 convs, 226 s in all with its 22 float runs) and 0.2 on x4fast; since
 * the feedback is a back substitution (no inverse) about 0.27 on x4plus (2:13 with its 22 runs, cut to what each
 * part reads: about 1.7 s each).
 */
const GPTQ_CONV_SECONDS = 0.3;
const VARIANT_COST: Record<Variant, number> = { 'int8-static': 0.5, 'int8-dynamic': 1, fp16: 1 };

export interface PlanInput {
  /** Seconds of one FP32 run on one calibration tile (timed after a warm-up). */
  tileSeconds: number;
  /** Side of a calibration tile (px). */
  tileSide: number;
  calibrationTiles: number;
  method: CalibrationMethod;
  biasCorrection: boolean;
  /** Activation equalization with a per-channel pass of its own: one more pass over the tiles (equalize.ts). */
  equalizationPass?: boolean;
  /** GPTQ on: float runs that read the convs' inputs back (gptq.ts gptqTileRuns), one per conv at most. */
  gptq?: boolean;
  /** Convs static INT8 quantizes, and layers the search could keep float (about the quantized nodes). */
  convs: number;
  /** Convs bias correction measures per session (the memory plan's; default 48). */
  convsPerPart?: number;
  layers: number;
  /**
   * How many cheaper forms a static INT8 miss tries before the search (model-job.ts cheapForms: residual sums float,
   * PReLUs whole), each quantized again from round 1's ranges and weights (bias correction measured again) and
   * validated again.
   */
  cheapForms?: number;
  variants: readonly Variant[];
  description: ModelDescription;
  tileSize: number;
  /** Sizes (w × h, ground truth) of the evaluation photos and of the search photos, and the scale that shrinks them. */
  evaluation: readonly { width: number; height: number }[];
  search: readonly { width: number; height: number }[];
}

export interface TimePlan {
  /** Seconds per step that always runs. */
  steps: { step: string; seconds: number }[];
  /**
   * Seconds of the fallback search, which runs only when static INT8 misses the budget; with the retry of the
   * model's cheap float form first (PReLUs whole, residual sums float: bias correction and validation again).
   */
  search: number;
  /** Sum of steps (without the search). */
  seconds: number;
}

export function planTime(p: PlanInput): TimePlan {
  const t = p.tileSeconds;
  const steps: TimePlan['steps'] = [];
  const validationRuns = tileRuns(p.evaluation, p);
  const searchRuns = tileRuns(p.search, p);
  const variantsCost = p.variants.reduce((n, v) => n + VARIANT_COST[v], 0);
  if (p.variants.includes('int8-static')) {
    const passes = CALIBRATION_PASSES[p.method] + (p.equalizationPass ? EQUALIZATION_PASS : 0);
    steps.push({ step: 'calibration', seconds: p.calibrationTiles * passes * t });
    if (p.gptq && p.convs > 0) {
      const { sessions, tilesPerSession } = gptqTileRuns(p.convs);
      steps.push({ step: 'GPTQ', seconds: sessions * tilesPerSession * t + p.convs * GPTQ_CONV_SECONDS });
    }
    if (p.biasCorrection && p.convs > 0) {
      const parts = Math.ceil(p.convs / (p.convsPerPart ?? CONVS_PER_SESSION));
      const tiles = Math.max(Math.min(p.calibrationTiles, 4), Math.ceil(p.calibrationTiles / parts));
      steps.push({ step: 'bias correction', seconds: parts * tiles * t });
    }
  }
  steps.push({ step: 'validation', seconds: validationRuns * (1 + variantsCost) * t });
  let search = 0;
  if (p.variants.includes('int8-static') && p.layers > 1) {
    // Ranking (√n blocks and √n / 2 refinements, on a third of the search photos) and the search's O(log n) rounds.
    const n = p.layers;
    const ranking = n <= 24 ? n : 1.5 * Math.ceil(Math.sqrt(n));
    const simulated = 2 + ranking / 3 + 2 * Math.ceil(Math.log2(n));
    // The simulated runs (about twice an FP32 run: the layer mask keeps ORT from packing weights and fusing), the
    // rest of calibration (a quarter of the tiles), two real rounds and validation again.
    search = 2 * simulated * searchRuns * t + 0.25 * p.calibrationTiles * CALIBRATION_PASSES[p.method] * t + 2 * searchRuns * 1.5 * t + validationRuns * (1 + variantsCost) * t;
  }
  if (p.variants.includes('int8-static')) {
    const seconds = (step: string) => steps.find((x) => x.step === step)?.seconds ?? 0;
    search += (p.cheapForms ?? 0) * (seconds('bias correction') + validationRuns * (1 + variantsCost) * t);
  }
  return { steps, search, seconds: steps.reduce((s, x) => s + x.seconds, 0) };
}

/** FP32 runs, in calibration-tile equivalents, to upscale these photos as validation tiles them (tile-plan.ts). */
function tileRuns(photos: readonly { width: number; height: number }[], p: PlanInput): number {
  return validationWindows(photos, p.description, p.tileSize).reduce((a, b) => a + b, 0) / (p.tileSide * p.tileSide);
}

/** Input pixels of each window validation runs on these ground-truth photos (tile-plan.ts; context included). */
export function validationWindows(photos: readonly { width: number; height: number }[], d: ModelDescription, tileSize: number): number[] {
  const pad = Math.ceil((d.border ?? 0) / d.scale);
  return photos.flatMap(({ width, height }) => {
    const [w, h] = [Math.floor(width / d.scale) + 2 * pad, Math.floor(height / d.scale) + 2 * pad];
    const tile = d.wholeImage ? Math.max(w, h) : tileSizeFor(d, tileSize);
    return planTiles(w, h, tile, tileContext(d)).map(({ x, y }) => x.size * y.size);
  });
}

/** One line: each step's estimate, the search's, and the budget. */
export function planLine(plan: TimePlan, budgetMinutes: number): string {
  const steps = plan.steps.map((s) => `${s.step} ≈ ${formatDuration((s.seconds) * 1000)}`).join(', ');
  const search = plan.search > 0 ? `; fallback search, if static INT8 misses the budget, ≈ ${formatDuration((plan.search) * 1000)} more` : '';
  return `time plan: ${steps} (≈ ${formatDuration((plan.seconds) * 1000)} in all${search}); time budget ${budgetMinutes} min`;
}

/** Why the model cannot be run within the budget, or undefined when it can. */
export function overBudget(plan: TimePlan, budgetMinutes: number, model: string): string | undefined {
  if (plan.seconds <= budgetMinutes * 60) return undefined;
  const need = Math.ceil(plan.seconds / 60);
  return `${model} needs ≈ ${need} min on this runner before any fallback search (${plan.steps.map((s) => `${s.step} ≈ ${formatDuration((s.seconds) * 1000)}`).join(', ')}), over its ${budgetMinutes} min time budget; set time-budget to ${Math.ceil(need * 1.2)} or more, or use a larger runner`;
}

/** Why the fallback search is skipped (it would not fit in what the budget has left), or undefined when it fits. */
export function searchOverBudget(plan: TimePlan, elapsedSeconds: number, budgetMinutes: number): string | undefined {
  const left = budgetMinutes * 60 - elapsedSeconds;
  if (plan.search <= left) return undefined;
  return `the fallback search needs ≈ ${formatDuration((plan.search) * 1000)} and the ${budgetMinutes} min time budget has ${formatDuration((Math.max(0, left) * 1000))} left; raise time-budget to ${Math.ceil((elapsedSeconds + plan.search) / 60 * 1.2)} to let it run`;
}
