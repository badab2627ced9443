// Lines printed by accuracy-aware quantization (srq quantize --max-drop): each validation round, the layer ranking,
// and the verdict. Runtime-agnostic.
import type { BudgetResult, BudgetStep, DropMetric, LayerSensitivity, QualityBudget } from '../validate/accuracy-aware.ts';
import { dropMetricOf, METRIC_LABEL } from '../validate/gate.ts';
import { formatValue } from './summary.ts';

const unit = (metric: DropMetric) => (metric === 'ssim' ? '' : ' dB');
/** The budget as its flag says it: `--max-drop 0.1 dB` or `--min-fidelity 40 dB`. */
function budgetFlag(budget: QualityBudget): string {
  return budget.metric === 'fidelity' ? `--min-fidelity ${budget.minFidelity} dB` : `--max-drop ${formatValue(budget.metric, budget.maxDrop)}${unit(budget.metric)}`;
}

/** The layers kept float, by name; past a dozen, the first ones and how many more (a deep model keeps hundreds). */
function names(layers: readonly string[], shown = 12): string {
  return layers.length <= shown ? layers.join(', ') : `${layers.slice(0, shown).join(', ')} and ${layers.length - shown} more`;
}

export function stepLine(step: BudgetStep, budget: QualityBudget): string {
  const metric = dropMetricOf(budget);
  const float = step.keptFloat.length === 0 ? `all ${step.layers} layers int8` : `${step.keptFloat.length} of ${step.layers} layers float (${names(step.keptFloat)})`;
  // With a fidelity aim (a fidelity budget, or set by the held-out drop), the fidelity decides; the drop is shown
  // for reference.
  const limit = budget.metric === 'fidelity' ? '' : `${formatValue(metric, budget.maxDrop)}${unit(metric)}`;
  const verdict = step.fidelityAim !== undefined
    ? `; fidelity ${step.fidelity.toFixed(1)} dB ${step.meets ? `≥ ${step.fidelityAim.toFixed(1)} dB (the aim): meets the budget` : `< ${step.fidelityAim.toFixed(1)} dB (the aim)`}`
    : step.meets ? ` ≤ ${limit}: meets the budget; fidelity ${step.fidelity.toFixed(1)} dB` : ` > ${limit}; fidelity ${step.fidelity.toFixed(1)} dB`;
  const speed = step.speedup !== undefined ? `; ≈${step.speedup.toFixed(1)}× FP32 speed` : '';
  return `round ${step.round}${step.simulated ? ' (simulated)' : ''}: ${float}; ${METRIC_LABEL[metric]} drop ${formatValue(metric, step.drop)}${unit(metric)} (worst image ${formatValue(metric, step.worstImageDrop)})${verdict}${speed}`;
}

export function rankingLine(ranking: readonly LayerSensitivity[], shown = 6): string {
  const top = ranking.slice(0, shown).map((l) => `${l.layer} (${l.opType}, ${l.error.toFixed(3)})`).join(', ');
  return `ranked ${ranking.length} layers by measured sensitivity (MSE of the 8-bit output vs FP32's, in levels², with only that layer int8, simulated); most harmful: ${top}`;
}

/** The final line: what was kept float, the drop reached and what it cost in speed; or why nothing qualifies. */
export function verdictLine(result: BudgetResult, budget: QualityBudget): string {
  const metric = dropMetricOf(budget);
  const real = result.steps.filter((s) => !s.simulated);
  const simulated = result.steps.length - real.length;
  const rounds = `${real.length} validation round${real.length === 1 ? '' : 's'}${simulated ? ` after ${simulated} simulated` : ''}`;
  const flag = budgetFlag(budget);
  if (!result.best) {
    const last = real[real.length - 1]!;
    const tried = last.layers <= 1 ? `with its only quantizable layer int8` : `even with ${last.keptFloat.length} of ${last.layers} layers kept float`;
    const reached = budget.metric === 'fidelity' ? `the fidelity is ${last.fidelity.toFixed(1)} dB` : `the ${METRIC_LABEL[metric]} drop is ${formatValue(metric, last.drop)}${unit(metric)}`;
    return `no INT8 model meets ${flag}: ${tried} ${reached} (${rounds}); ${budget.metric === 'fidelity' ? 'lower --min-fidelity' : 'loosen --max-drop'} or use --mode fp16`;
  }
  const { step } = result.best;
  const float = step.keptFloat.length ? `kept ${step.keptFloat.length} of ${step.layers} layers float (${names(step.keptFloat)})` : `all ${step.layers} layers int8`;
  const why = budget.metric === 'fidelity'
    ? `the aim for ${budget.minFidelity} dB on the held-out photos`
    : `the gain round 1's held-out drop needs to fit ${formatValue(metric, budget.maxDrop)}${unit(metric)}`;
  const reached = step.fidelityAim !== undefined
    ? `fidelity ${step.fidelity.toFixed(1)} dB ≥ ${step.fidelityAim.toFixed(1)} dB on the search photos (${why}; ${METRIC_LABEL[metric]} drop there ${formatValue(metric, step.drop)}${unit(metric)})`
    : `${METRIC_LABEL[metric]} drop ${formatValue(metric, step.drop)}${unit(metric)} ≤ ${formatValue(metric, (budget as { maxDrop: number }).maxDrop)}${unit(metric)}`;
  const line = `${float}: ${reached}; ${rounds}`;
  const s = result.speed;
  if (!s) return line;
  const x = (ms: number) => `${(s.fp32Ms / ms).toFixed(2)}×`;
  const first = result.steps[0]!;
  const firstScore = budget.metric === 'fidelity' ? `fidelity ${first.fidelity.toFixed(1)} dB` : `drop ${formatValue(metric, first.drop)}${unit(metric)}`;
  const cost = step.keptFloat.length ? `, all-int8 ${s.allInt8Ms.toFixed(1)} ms (${x(s.allInt8Ms)}, ${firstScore})` : '';
  // With most layers float, Q/DQ around float kernels can cost more than int8 saves: say so rather than imply a gain.
  const slower = s.bestMs >= s.fp32Ms ? `\nnote: this model is no faster than FP32 here; for this budget FP32 (or FP16, half the size) serves as well` : '';
  return `${line}\nspeed per ${s.tile}² tile (median, interleaved): FP32 ${s.fp32Ms.toFixed(1)} ms, this model ${s.bestMs.toFixed(1)} ms (${x(s.bestMs)} FP32 speed)${cost}${slower}`;
}

/**
 * The INT8 model's provenance for the budget its float layers were chosen by, as a metadata key and value;
 * `measured` is on the budget's metric (the drop, or the fidelity in dB).
 */
export function budgetMetadata(budget: QualityBudget, measured: number, where = ''): [string, string] {
  return budget.metric === 'fidelity'
    ? ['srq.min_fidelity', `${budget.minFidelity} dB${where} (measured ${measured.toFixed(2)})`]
    : ['srq.max_drop', `${budget.maxDrop} ${budget.metric}${where} (measured ${measured.toFixed(4)})`];
}
