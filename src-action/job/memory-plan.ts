// The job's memory plan for one model: the peak resident memory each step will reach on this runner, estimated
// before any work from two readings taken while the time plan runs its FP32 tile (the process's memory before the
// session, and what one FP32 session on one calibration tile added), so that a model that would not fit the
// memory budget is refused at once with what it would need, instead of being killed by the runner.
// Each step costs a fixed part (ORT's sessions, the second model in memory) plus a multiple of the FP32 session;
// both were fitted on the peaks memory-watch.ts logged for x4plus and the corpus (README, "Big models"), rounded up.
// The one knob: bias correction measures its convs in parts, and a smaller part needs less memory (and more runs).
// Runtime-agnostic.
import { CONVS_PER_SESSION } from '../../src-core/quantize/bias-correction.ts';
import type { ModelDescription } from '../../src-core/model/description.ts';
import { gb } from './memory-watch.ts';
import type { Variant } from './options.ts';
import { validationWindows } from './time-plan.ts';

const GB = 1e9;
/** Fewest convs bias correction measures per session (it measures CONVS_PER_SESSION when memory allows). */
const MIN_CONVS_PER_PART = 4;
/**
 * Resident memory of the worker that measures the INT8 file's wasm memory for the edge, besides that memory (its
 * V8 isolate and ORT's compiled wasm; measured 0.2–0.4 GB). That measure is not in the plan: it runs last, on top of
 * whatever the process holds by then, so it takes what the budget leaves at that moment (up to 512 MB)
 * and is skipped, with a warning, when that is too little; it never refuses a model.
 */
export const WASM_WORKER_BYTES = 0.45 * GB;
const WHOLE_IMAGE_MARGIN = 1.6;

/** Fixed bytes and multiples of the FP32 tile session per step (see above); bias correction's multiple is per conv. */
const STEP_COST = {
  calibration: { fixed: 0.15 * GB, sessions: 2.5 },
  'bias correction': { fixed: 0.45 * GB, perConv: 0.06 },
  validation: { fixed: 0.15 * GB, sessions: 3.5 },
  'fallback search': { fixed: 0.3 * GB, sessions: 3 },
  coverage: { fixed: 0.25 * GB, sessions: 1.6 },
};

export interface MemoryPlanInput {
  /** Resident bytes before the FP32 session was made (Node, the model, the photos). */
  baseBytes: number;
  /** What one FP32 session added after one run on one calibration tile. */
  sessionBytes: number;
  /** Side of a calibration tile (px). */
  tileSide: number;
  /** Convs bias correction measures (0 without it). */
  convs: number;
  variants: readonly Variant[];
  description: ModelDescription;
  tileSize: number;
  /** Sizes (ground truth) of the evaluation photos. */
  evaluation: readonly { width: number; height: number }[];
}

export interface MemoryPlan {
  steps: { step: string; bytes: number }[];
  /** Convs per bias-correction session that fit the budget (CONVS_PER_SESSION when memory is no constraint). */
  convsPerPart: number;
  /** The largest step. */
  peakBytes: number;
}

export function planMemory(p: MemoryPlanInput, budgetBytes: number): MemoryPlan {
  const { baseBytes: base, sessionBytes: session } = p;
  const steps: MemoryPlan['steps'] = [];
  let convsPerPart = CONVS_PER_SESSION;
  if (p.variants.includes('int8-static')) {
    steps.push({ step: 'calibration', bytes: base + STEP_COST.calibration.fixed + STEP_COST.calibration.sessions * session });
    if (p.convs > 0) {
      const bc = STEP_COST['bias correction'];
      const perConv = bc.perConv * session;
      const fits = Math.floor((budgetBytes - base - bc.fixed) / perConv);
      convsPerPart = Math.max(MIN_CONVS_PER_PART, Math.min(CONVS_PER_SESSION, fits));
      steps.push({ step: 'bias correction', bytes: base + bc.fixed + perConv * Math.min(p.convs, convsPerPart) });
    }
  }
  // Validation runs FP32 and each variant on the same windows: tiles of tile-size, or whole photos. A whole-image
  // model (attention) gets WHOLE_IMAGE_MARGIN more: scaled by pixels alone, SwinIR-lite's 1.00 GB was estimated 0.79.
  const largestWindow = Math.max(0, ...validationWindows(p.evaluation, p.description, p.tileSize));
  const windowSession = session * (largestWindow / (p.tileSide * p.tileSide)) * (p.description.wholeImage ? WHOLE_IMAGE_MARGIN : 1);
  steps.push({ step: 'validation', bytes: base + STEP_COST.validation.fixed + STEP_COST.validation.sessions * windowSession });
  if (p.variants.includes('int8-static')) {
    steps.push({ step: 'fallback search', bytes: base + STEP_COST['fallback search'].fixed + STEP_COST['fallback search'].sessions * session });
    steps.push({ step: 'coverage', bytes: base + STEP_COST.coverage.fixed + STEP_COST.coverage.sessions * session });
  }
  return { steps, convsPerPart, peakBytes: Math.max(...steps.map((s) => s.bytes)) };
}

/** One line: each step's estimate and the budget. */
export function memoryPlanLine(plan: MemoryPlan, budgetBytes: number): string {
  const parts = plan.convsPerPart < CONVS_PER_SESSION ? `; bias correction measures ${plan.convsPerPart} convs per session to fit` : '';
  return `memory plan: ${plan.steps.map((s) => `${s.step} ≈ ${gb(s.bytes)}`).join(', ')} (peak ≈ ${gb(plan.peakBytes)}${parts}; then the edge's memory measures, within what the budget leaves); memory budget ${gb(budgetBytes)}`;
}

/** Why the model cannot run within the memory budget, or undefined when it can. */
export function overMemoryBudget(plan: MemoryPlan, budgetBytes: number, model: string): string | undefined {
  if (plan.peakBytes <= budgetBytes) return undefined;
  const over = plan.steps.filter((s) => s.bytes > budgetBytes).map((s) => `${s.step} ≈ ${gb(s.bytes)}`).join(', ');
  return `${model} needs ≈ ${gb(plan.peakBytes)} of memory on this runner (${over}), over its ${gb(budgetBytes)} memory budget; set memory-budget to ${suggestedBudget(plan.peakBytes)} or more, or use a runner with more memory`;
}

/** A memory-budget (GB, one decimal) with 20% headroom over a peak in bytes. */
export function suggestedBudget(peakBytes: number): number {
  return Math.ceil((peakBytes * 1.2) / 1e8) / 10;
}
