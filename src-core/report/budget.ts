// Lines printed by accuracy-aware quantization (srq quantize --max-drop): each validation round, the layer ranking,
// and the verdict. Runtime-agnostic.
import type { BudgetResult, BudgetStep, DropMetric, LayerSensitivity } from '../validate/accuracy-aware.ts';
import { METRIC_LABEL } from '../validate/gate.ts';
import { formatValue } from './summary.ts';

const unit = (metric: DropMetric) => (metric === 'ssim' ? '' : ' dB');

export function stepLine(step: BudgetStep, metric: DropMetric, maxDrop: number): string {
  const float = step.keptFloat.length === 0 ? 'all layers int8' : `${step.keptFloat.length} of ${step.candidates} layers float (${step.keptFloat.join(', ')})`;
  const verdict = step.meets ? `≤ ${formatValue(metric, maxDrop)}${unit(metric)}: meets the budget` : `> ${formatValue(metric, maxDrop)}${unit(metric)}`;
  return `round ${step.round}: ${float}; ${METRIC_LABEL[metric]} drop ${formatValue(metric, step.drop)}${unit(metric)} (worst image ${formatValue(metric, step.worstImageDrop)}) ${verdict}; fidelity ${step.fidelity.toFixed(1)} dB; ${step.speedup.toFixed(2)}× FP32 speed`;
}

export function rankingLine(ranking: readonly LayerSensitivity[], shown = 5): string {
  const top = ranking.slice(0, shown).map((l) => `${l.node} (${l.opType})`).join(', ');
  return `ranked ${ranking.length} layers by measured sensitivity (output error removed by keeping each alone in float); most harmful: ${top}`;
}

/** The final line: what was kept float, the drop reached and what it cost in speed; or why nothing qualifies. */
export function verdictLine(result: BudgetResult, metric: DropMetric, maxDrop: number): string {
  const rounds = result.steps.length;
  const limit = `${formatValue(metric, maxDrop)}${unit(metric)}`;
  if (!result.best) {
    const last = result.steps[result.steps.length - 1]!;
    return `no INT8 model meets --max-drop ${limit}: even with ${last.keptFloat.length} of ${last.candidates} layers kept float the ${METRIC_LABEL[metric]} drop is ${formatValue(metric, last.drop)}${unit(metric)} (${rounds} validation rounds); loosen --max-drop or use --mode fp16`;
  }
  const { step } = result.best;
  const allInt8 = result.steps[0]!;
  const cost = step.keptFloat.length === 0 ? '' : `; all-int8 was ${allInt8.speedup.toFixed(2)}× (drop ${formatValue(metric, allInt8.drop)}${unit(metric)})`;
  return `kept ${step.keptFloat.length} of ${step.candidates || step.keptFloat.length} layers float${step.keptFloat.length ? ` (${step.keptFloat.join(', ')})` : ''}: ${METRIC_LABEL[metric]} drop ${formatValue(metric, step.drop)}${unit(metric)} ≤ ${limit}, ${step.speedup.toFixed(2)}× FP32 speed${cost}; ${rounds} validation round${rounds === 1 ? '' : 's'}`;
}
