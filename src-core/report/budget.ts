// Lines printed by accuracy-aware quantization (srq quantize --max-drop): each validation round, the layer ranking,
// and the verdict. Runtime-agnostic.
import type { BudgetResult, BudgetStep, DropMetric, LayerSensitivity } from '../validate/accuracy-aware.ts';
import { METRIC_LABEL } from '../validate/gate.ts';
import { formatValue } from './summary.ts';

const unit = (metric: DropMetric) => (metric === 'ssim' ? '' : ' dB');

/** The layers kept float, by name; past a dozen, the first ones and how many more (a deep model keeps hundreds). */
function names(layers: readonly string[], shown = 12): string {
  return layers.length <= shown ? layers.join(', ') : `${layers.slice(0, shown).join(', ')} and ${layers.length - shown} more`;
}

export function stepLine(step: BudgetStep, metric: DropMetric, maxDrop: number): string {
  const float = step.keptFloat.length === 0 ? `all ${step.layers} layers int8` : `${step.keptFloat.length} of ${step.layers} layers float (${names(step.keptFloat)})`;
  // With a fidelity aim (set by the held-out drop), the fidelity decides; the drop is shown for reference.
  const verdict = step.fidelityAim !== undefined
    ? `; fidelity ${step.fidelity.toFixed(1)} dB ${step.meets ? `≥ ${step.fidelityAim.toFixed(1)} dB (the aim): meets the budget` : `< ${step.fidelityAim.toFixed(1)} dB (the aim)`}`
    : step.meets ? ` ≤ ${formatValue(metric, maxDrop)}${unit(metric)}: meets the budget; fidelity ${step.fidelity.toFixed(1)} dB` : ` > ${formatValue(metric, maxDrop)}${unit(metric)}; fidelity ${step.fidelity.toFixed(1)} dB`;
  const speed = step.speedup !== undefined ? `; ≈${step.speedup.toFixed(1)}× FP32 speed` : '';
  return `round ${step.round}${step.simulated ? ' (simulated)' : ''}: ${float}; ${METRIC_LABEL[metric]} drop ${formatValue(metric, step.drop)}${unit(metric)} (worst image ${formatValue(metric, step.worstImageDrop)})${verdict}${speed}`;
}

export function rankingLine(ranking: readonly LayerSensitivity[], shown = 6): string {
  const top = ranking.slice(0, shown).map((l) => `${l.layer} (${l.opType}, ${l.error.toFixed(3)})`).join(', ');
  return `ranked ${ranking.length} layers by measured sensitivity (MSE of the 8-bit output vs FP32's, in levels², with only that layer int8, simulated); most harmful: ${top}`;
}

/** The final line: what was kept float, the drop reached and what it cost in speed; or why nothing qualifies. */
export function verdictLine(result: BudgetResult, metric: DropMetric, maxDrop: number): string {
  const real = result.steps.filter((s) => !s.simulated);
  const simulated = result.steps.length - real.length;
  const rounds = `${real.length} validation round${real.length === 1 ? '' : 's'}${simulated ? ` after ${simulated} simulated` : ''}`;
  const limit = `${formatValue(metric, maxDrop)}${unit(metric)}`;
  if (!result.best) {
    const last = real[real.length - 1]!;
    const tried = last.layers <= 1 ? `with its only quantizable layer int8` : `even with ${last.keptFloat.length} of ${last.layers} layers kept float`;
    return `no INT8 model meets --max-drop ${limit}: ${tried} the ${METRIC_LABEL[metric]} drop is ${formatValue(metric, last.drop)}${unit(metric)} (${rounds}); loosen --max-drop or use --mode fp16`;
  }
  const { step } = result.best;
  const float = step.keptFloat.length ? `kept ${step.keptFloat.length} of ${step.layers} layers float (${names(step.keptFloat)})` : `all ${step.layers} layers int8`;
  const reached = step.fidelityAim !== undefined
    ? `fidelity ${step.fidelity.toFixed(1)} dB ≥ ${step.fidelityAim.toFixed(1)} dB on the search photos (the gain round 1's held-out drop needs to fit ${limit}; ${METRIC_LABEL[metric]} drop there ${formatValue(metric, step.drop)}${unit(metric)})`
    : `${METRIC_LABEL[metric]} drop ${formatValue(metric, step.drop)}${unit(metric)} ≤ ${limit}`;
  const line = `${float}: ${reached}; ${rounds}`;
  const s = result.speed;
  if (!s) return line;
  const x = (ms: number) => `${(s.fp32Ms / ms).toFixed(2)}×`;
  const cost = step.keptFloat.length ? `, all-int8 ${s.allInt8Ms.toFixed(1)} ms (${x(s.allInt8Ms)}, drop ${formatValue(metric, result.steps[0]!.drop)}${unit(metric)})` : '';
  // With most layers float, Q/DQ around float kernels can cost more than int8 saves: say so rather than imply a gain.
  const slower = s.bestMs >= s.fp32Ms ? `\nnote: this model is no faster than FP32 here; for this budget FP32 (or FP16, half the size) serves as well` : '';
  return `${line}\nspeed per ${s.tile}² tile (median, interleaved): FP32 ${s.fp32Ms.toFixed(1)} ms, this model ${s.bestMs.toFixed(1)} ms (${x(s.bestMs)} FP32 speed)${cost}${slower}`;
}
