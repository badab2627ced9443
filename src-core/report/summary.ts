// The summary table of a validation report as plain cells, shared by the terminal, Markdown and HTML renderers so
// that all three say the same thing. Runtime-agnostic.
import { gatedValue, METRIC_LABEL } from '../validate/gate.ts';
import type { GateMetric, ModelResult, ValidationReport } from '../validate/schema.ts';
import { percent } from '../quantize/coverage.ts';

export interface SummaryTable {
  header: string[];
  rows: string[][];
  /** Column indexes holding numbers (right-aligned). */
  numeric: Set<number>;
}

/** The metric the drop column shows: the gated one, or PSNR-Y when gating on fidelity or not at all. */
export function dropMetric(report: ValidationReport): Exclude<GateMetric, 'fidelity'> {
  const m = report.gate?.limits.metric;
  return m && m !== 'fidelity' ? m : 'psnr-y';
}

/** toFixed without "-0.000" for tiny negative values. */
export function fixed(value: number, digits: number): string {
  const text = value.toFixed(digits);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

export function formatDb(value: number | null | undefined, digits = 2): string {
  if (value === undefined) return '—';
  if (value === null || !Number.isFinite(value)) return '∞';
  return fixed(value, digits);
}

/** A drop (or fidelity) on the gated metric: 3 decimals in dB, 4 for SSIM. */
export function formatValue(metric: GateMetric, value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
  return fixed(value, metric === 'ssim' ? 4 : 3);
}

export function formatBytes(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(0)} kB`;
}

export function modelName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

export function summaryTable(report: ValidationReport, pass = 'pass', fail = 'FAIL'): SummaryTable {
  const metric = dropMetric(report);
  const ref = report.reference;
  const header = ['model', 'variant', 'size', 'PSNR-Y dB', `drop ${METRIC_LABEL[metric]}`, 'SSIM-Y', 'fidelity dB', 'latency (speedup)', 'result'];
  // In brackets: speedup over the reference (its time / this model's time).
  const latency = (m: ModelResult) => `${m.latency.seconds.toFixed(2)} s (${(ref.latency.seconds / m.latency.seconds).toFixed(2)}×)`;
  const size = (m: ModelResult) => `${formatBytes(m.bytes)} (${Math.round((m.bytes / ref.bytes) * 100)}%)`;
  const rows = [
    ['bicubic', 'baseline', '—', formatDb(report.bicubic.mean.psnrY), '—', report.bicubic.mean.ssimY.toFixed(4), '—', '—', '—'],
    [modelName(ref.path), ref.variant, formatBytes(ref.bytes), formatDb(ref.mean.psnrY), '—', ref.mean.ssimY.toFixed(4), '—', `${ref.latency.seconds.toFixed(2)} s`, 'reference'],
    ...report.candidates.map((c) => [
      modelName(c.path),
      c.variant,
      size(c),
      formatDb(c.mean.psnrY),
      formatValue(metric, gatedValue(metric, c)),
      c.mean.ssimY.toFixed(4),
      formatDb(c.mean.fidelity),
      latency(c),
      c.gate ? (c.gate.passed ? pass : fail) : '—',
    ]),
  ];
  const table = { header, rows, numeric: new Set([2, 3, 4, 5, 6, 7]) };
  if (!report.candidates.some((c) => c.coverage)) return table;
  // INT8 candidates measured for int8 coverage: one more column, before the result.
  const coverage = ['—', '—', ...report.candidates.map((c) => (c.coverage ? percent(c.coverage.int8MacShare) : '—'))];
  header.splice(8, 0, 'int8 coverage');
  rows.forEach((r, i) => r.splice(8, 0, coverage[i]!));
  table.numeric.add(8);
  return table;
}

/** Fixed-width text for a terminal. */
export function textTable(t: SummaryTable): string {
  const widths = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (t.numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(t.header), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

/** Each failure of each candidate, as sentences: which image (or the mean), the value and the limit. */
export function failureLines(report: ValidationReport): string[] {
  const coverage = report.candidates.filter((c) => c.coverage?.passed === false).map((c) => `${modelName(c.path)}: ${c.coverage!.message}`);
  return [...gateFailureLines(report), ...coverage];
}

/**
 * INT8 candidates that ran slower than FP32 in validation, as sentences (FP16 is made for GPU hosts: its CPU time
 * says nothing). Below 0.9×: one timed pass is noisy, and a file that is a tenth slower is already no gain.
 */
export function slowerLines(report: ValidationReport): string[] {
  const runtime = report.setup.runtime === 'node' ? 'ORT-node' : 'ORT-web (wasm)';
  return report.candidates
    .filter((c) => c.variant.startsWith('int8') && report.reference.latency.seconds / c.latency.seconds < 0.9)
    .map((c) => `${modelName(c.path)} ran at ${(report.reference.latency.seconds / c.latency.seconds).toFixed(2)}× FP32's speed in validation (${runtime}): slower than the model it replaces, so its gain is size only; serve FP32 where speed matters`);
}

function gateFailureLines(report: ValidationReport): string[] {
  const metric = report.gate?.limits.metric;
  if (!metric) return [];
  const unit = metric === 'ssim' ? '' : ' dB';
  const what = metric === 'fidelity' ? 'fidelity' : `${METRIC_LABEL[metric]} drop`;
  const cmp = metric === 'fidelity' ? '<' : '>';
  return report.candidates.flatMap((c) =>
    (c.gate?.failures ?? []).map((f) =>
      `${modelName(c.path)}: ${f.image ?? 'mean over all images'} ${what} ${formatValue(metric, f.value)}${unit} ${cmp} ${formatValue(metric, f.limit)}${unit} (by ${formatValue(metric, Math.abs(f.value - f.limit))}${unit})`),
  );
}

/** One line describing how the numbers were made. */
export function setupLine(report: ValidationReport): string {
  const s = report.setup;
  return `${report.images.length} image${report.images.length === 1 ? '' : 's'}, ×${s.scale}; LR: ${s.lowRes}; PSNR/SSIM on uint8 with ${s.cropBorder} px border crop, Y = BT.601 (16–235); fidelity = RGB PSNR of each candidate's output vs the reference's, whole image; ${s.runtime === 'node' ? 'ORT-node' : 'ORT-web (wasm)'}${s.threads ? `, ${s.threads} thread${s.threads === 1 ? '' : 's'}` : ''}, ${s.tileSize > 0 ? `${s.tileSize}² tiles` : 'whole images'}`;
}
