// The quality gate: does every candidate stay within the limits? Drop metrics (psnr-y, psnr-rgb, ssim) limit how
// much worse than the reference a candidate may score against the ground truth, on the mean and on any one image;
// fidelity limits how far a candidate's output may stray from the reference's output, as a minimum PSNR in dB
// (for models, e.g. GAN upscalers, whose ground-truth PSNR says little). Runtime-agnostic.
import type { CandidateResult, GateFailure, GateLimits, GateMetric, ValidationReport } from './schema.ts';

export const METRIC_LABEL: Record<GateMetric, string> = { 'psnr-y': 'PSNR-Y', 'psnr-rgb': 'PSNR-RGB', ssim: 'SSIM-Y', fidelity: 'fidelity' };

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
