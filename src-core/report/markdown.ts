// A validation report as Markdown, for a GitHub job summary or a PR comment: verdict, summary table, failures,
// then per-image numbers folded away in <details>. Runtime-agnostic.
import { gatedValue, METRIC_LABEL } from '../validate/gate.ts';
import type { ValidationReport } from '../validate/schema.ts';
import { dropMetric, failureLines, formatDb, formatValue, modelName, setupLine, summaryTable } from './summary.ts';

const escapeCell = (s: string) => s.replace(/\|/g, '\\|');

function table(header: readonly string[], rows: readonly (readonly string[])[], numeric: ReadonlySet<number>): string[] {
  return [
    `| ${header.map(escapeCell).join(' | ')} |`,
    `| ${header.map((_, i) => (numeric.has(i) ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(escapeCell).join(' | ')} |`),
  ];
}

export function renderMarkdown(report: ValidationReport): string {
  const lines: string[] = ['## srq validation', ''];
  if (report.gate) lines.push(`${report.gate.passed ? '✅' : '❌'} **${escapeCell(report.gate.reason)}**`, '');
  const summary = summaryTable(report, '✅ pass', '❌ fail');
  lines.push(...table(summary.header, summary.rows, summary.numeric), '');
  const failures = failureLines(report);
  if (failures.length > 0) lines.push('**Failed:**', '', ...failures.map((f) => `- ${f}`), '');

  const metric = dropMetric(report);
  const header = ['image', 'reference PSNR-Y', ...report.candidates.flatMap((c) => [`${modelName(c.path)} drop ${METRIC_LABEL[metric]}`, `${modelName(c.path)} fidelity dB`])];
  const rows = report.reference.images.map((ref, i) => [
    ref.image,
    formatDb(ref.psnrY),
    ...report.candidates.flatMap((c) => [formatValue(metric, gatedValue(metric, c.images[i]!)), formatDb(c.images[i]!.fidelity)]),
  ]);
  lines.push('<details><summary>Per image</summary>', '', ...table(header, rows, new Set(header.map((_, i) => i).slice(1))), '', '</details>', '');
  lines.push(`<sub>${setupLine(report)}. srq ${report.srqVersion}, schema ${report.schema}.</sub>`, '');
  return lines.join('\n');
}
