// The quality gate: does every candidate stay within the limits? Drop metrics (psnr-y, psnr-rgb, ssim) limit how
// much worse than the reference a candidate may score against the ground truth, on the mean and on any one image;
// fidelity limits how far a candidate's output may stray from the reference's output, as a minimum PSNR in dB
// (for models, e.g. GAN upscalers, whose ground-truth PSNR says little). Runtime-agnostic.
import type { CandidateResult, DropMetric, GateFailure, GateLimits, GateMetric, QualityBudget, ValidationReport } from './schema.ts';

export const METRIC_LABEL: Record<GateMetric, string> = { 'psnr-y': 'PSNR-Y', 'psnr-rgb': 'PSNR-RGB', ssim: 'SSIM-Y', fidelity: 'fidelity' };

/** A budget as a phrase: "mean PSNR-Y drop ≤ 0.1 dB", "mean SSIM-Y drop ≤ 0.002", "mean fidelity ≥ 40 dB". */
export function budgetText(budget: QualityBudget): string {
  if (budget.metric === 'fidelity') return `mean fidelity ≥ ${budget.minFidelity} dB`;
  return `mean ${METRIC_LABEL[budget.metric]} drop ≤ ${budget.maxDrop}${budget.metric === 'ssim' ? '' : ' dB'}`;
}

/** The metric drops are read on: the gate's own, or PSNR-Y (shown for reference) when the gate is fidelity. */
export function dropMetricOf(gate: { metric: GateMetric }): DropMetric {
  return gate.metric === 'fidelity' ? 'psnr-y' : gate.metric;
}

/** A candidate's mean on the budget's metric (its drop, or its fidelity) and whether it is within the budget. */
export function withinBudget(budget: QualityBudget, c: Pick<CandidateResult, 'drop' | 'mean'>): { value: number; within: boolean } {
  const value = gatedValue(budget.metric, { drop: c.drop, fidelity: c.mean.fidelity });
  return { value, within: budget.metric === 'fidelity' ? value >= budget.minFidelity : value <= budget.maxDrop };
}

/** True when some limit is set (otherwise nothing is gated). */
export function hasLimits(limits: GateLimits): boolean {
  return [limits.maxDrop, limits.maxImageDrop, limits.minFidelity, limits.minImageFidelity].some((l) => l !== undefined);
}

/** A candidate's value on the gated metric: its drop (reference − candidate), or its fidelity. */
export function gatedValue(metric: GateMetric, r: { drop?: CandidateResult['drop']; fidelity?: number | null }): number {
  if (metric === 'fidelity') return r.fidelity ?? Infinity;
  const drop = r.drop!;
  return metric === 'psnr-y' ? drop.psnrY : metric === 'psnr-rgb' ? drop.psnrRgb : drop.ssimY;
}

/** The report with each candidate's verdict and one line saying why, pass or fail. */
export function applyGate(report: ValidationReport, limits: GateLimits): ValidationReport {
  if (!hasLimits(limits)) return report;
  const candidates = report.candidates.map((c) => ({ ...c, gate: judge(c, limits) }));
  const passed = candidates.every((c) => c.gate.passed);
  const reason = `gate ${passed ? 'passed' : 'failed'}: ${candidates.map((c) => explain(c, limits, report.images.length)).join('; ')}`;
  return { ...report, candidates, gate: { limits, passed, reason } };
}

function judge(c: CandidateResult, limits: GateLimits): { passed: boolean; failures: GateFailure[] } {
  const fidelity = limits.metric === 'fidelity';
  const meanLimit = fidelity ? limits.minFidelity : limits.maxDrop;
  const imageLimit = fidelity ? limits.minImageFidelity : limits.maxImageDrop;
  const fails = (value: number, limit: number) => (fidelity ? value < limit : value > limit);
  const failures: GateFailure[] = [];
  const meanValue = gatedValue(limits.metric, { drop: c.drop, fidelity: c.mean.fidelity });
  if (meanLimit !== undefined && fails(meanValue, meanLimit)) failures.push({ image: null, value: meanValue, limit: meanLimit });
  if (imageLimit !== undefined) {
    for (const img of c.images) {
      const value = gatedValue(limits.metric, img);
      if (fails(value, imageLimit)) failures.push({ image: img.image, value, limit: imageLimit });
    }
  }
  return { passed: failures.length === 0, failures };
}

function fmt(metric: GateMetric, value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? '∞ dB' : '-∞ dB';
  const text = value.toFixed(metric === 'ssim' ? 4 : 3).replace(/^-(0\.0+)$/, '$1');
  return metric === 'ssim' ? text : `${text} dB`;
}

/** One clause per candidate: the mean, then the worst image or the images over the limit. */
function explain(c: CandidateResult & { gate: { failures: GateFailure[] } }, limits: GateLimits, imageCount: number): string {
  const { metric } = limits;
  const fidelity = metric === 'fidelity';
  const meanLimit = fidelity ? limits.minFidelity : limits.maxDrop;
  const imageLimit = fidelity ? limits.minImageFidelity : limits.maxImageDrop;
  const meanValue = gatedValue(metric, { drop: c.drop, fidelity: c.mean.fidelity });
  const what = fidelity ? `fidelity ${fmt(metric, meanValue)} on average` : `drops ${fmt(metric, meanValue)} ${METRIC_LABEL[metric]} on average`;
  const parts = [`${c.path} ${what}${meanLimit !== undefined ? ` (${fidelity ? 'minimum' : 'limit'} ${fmt(metric, meanLimit)})` : ''}`];
  const imageFailures = c.gate.failures.filter((f) => f.image !== null);
  if (imageFailures.length > 0) {
    const list = imageFailures.map((f) => `${f.image} ${fmt(metric, f.value)}`).join(', ');
    parts.push(`${imageFailures.length} of ${imageCount} images ${fidelity ? 'under' : 'over'} ${fmt(metric, imageLimit!)}: ${list}`);
  } else if (imageLimit !== undefined || c.images.length > 1) {
    const values = c.images.map((img) => ({ image: img.image, value: gatedValue(metric, img) }));
    const worst = values.reduce((a, b) => ((fidelity ? b.value < a.value : b.value > a.value) ? b : a));
    parts.push(`worst image ${worst.image} ${fmt(metric, worst.value)}${imageLimit !== undefined ? ` (${fidelity ? 'minimum' : 'limit'} ${fmt(metric, imageLimit)})` : ''}`);
  }
  return parts.join(', ');
}

/**
 * A warning when a drop gate says little: the FP32 model scores below bicubic against the ground truth on average
 * (a GAN-style upscaler that draws texture the photos lack), so a candidate's drop there mixes lost detail with
 * lost invention, and can even be negative. Fidelity to FP32's output still measures what quantization broke.
 */
export function dropGateWarning(report: Pick<ValidationReport, 'reference' | 'bicubic'>, gate: { metric: GateMetric }): string | undefined {
  const fp32 = report.reference.mean.psnrY;
  const bicubic = report.bicubic.mean.psnrY;
  if (gate.metric === 'fidelity' || !(fp32 < bicubic)) return undefined;
  return `FP32 scores below bicubic against the ground truth (PSNR-Y ${fp32.toFixed(2)} vs ${bicubic.toFixed(2)} dB), so a drop says little about what quantization broke: gate it on fidelity to FP32's output (min-fidelity, --min-fidelity dB)`;
}
