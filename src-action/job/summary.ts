// A run for people: one sentence (the Action's `summary` output, the failure message), and the Markdown the job
// summary, the PR comment and summary.md show: one row per model × variant with pass/fail marks, what changed
// since the base, and each model's full validation report folded away. Numbers are formatted by src-core/report.
import { percent } from '../../src-core/quantize/coverage.ts';
import { formatBytes, formatDb, formatValue, failureLines, slowerLines } from '../../src-core/report/summary.ts';
import { renderMarkdown } from '../../src-core/report/markdown.ts';
import { budgetText, dropGateWarning, dropMetricOf, gatedValue, METRIC_LABEL } from '../../src-core/validate/gate.ts';
import type { CandidateResult } from '../../src-core/validate/schema.ts';
import { SRQ_VERSION } from '../../src-core/version.ts';
import type { ModelOutcome } from './outcome.ts';
import type { RunReport } from './run-report.ts';
import type { RunResult } from './run-job.ts';

/** GitHub refuses job summaries over 1 MiB; PR comments over 65,536 characters. */
export const SUMMARY_LIMIT = 1_000_000;
export const COMMENT_LIMIT = 65_000;

/** "2 of 3 models could not be run (a, b)", or '' when every model ran. */
function errorsText(report: RunReport): string {
  const errors = report.errors ?? [];
  if (errors.length === 0) return '';
  return `${errors.length} of ${report.models.length + errors.length} models could not be run (${errors.map((e) => e.name).join(', ')})`;
}

/** One sentence saying how the run went. */
export function summaryLine(report: RunReport): string {
  const broken = errorsText(report);
  if (report.models.length === 0 && !broken) {
    const why = report.base ? `no model changed since ${report.base.rev}` : 'no FP32 model to run';
    return `${why}: nothing to quantize or validate`;
  }
  const variants = report.models.flatMap((m) => m.variants.map((v) => ({ model: m, v })));
  const failed = variants.filter(({ v }) => !v.passed);
  const published = variants.filter(({ v }) => v.published).length;
  const hits = report.models.filter((m) => m.cache === 'hit').length;
  const gate = budgetText(report.options);
  const head = variants.length === 0
    ? ''
    : failed.length === 0
      ? `${variants.length} of ${variants.length} variants passed the gate (${gate})`
      : `${failed.length} of ${variants.length} variants failed the gate (${gate}): ${failed.map(({ model, v }) => `${model.name} ${v.quantization}`).join(', ')}`;
  const cache = hits ? `; ${hits} of ${report.models.length} models restored from the cache` : '';
  return `${[broken, head].filter(Boolean).join('; ')}; ${published} file${published === 1 ? '' : 's'} published${cache}`;
}

/** Per failing model: the workspace path (for an annotation) and what failed. */
export function gateFailures(result: RunResult): { path: string; message: string }[] {
  return result.models
    .filter((r) => r.outcome.variants.some((v) => !v.passed))
    .map(({ outcome }) => ({ path: outcome.path, message: `srq quality gate failed: ${failureLines(outcome.report).join('; ') || `${outcome.name}: no variant met the limits`}` }));
}

/** Per model that could not be run: the workspace path (for an annotation) and what failed. */
export function runErrors(result: RunResult): { path: string; message: string }[] {
  return result.errors.map((e) => ({ path: e.path, message: `srq could not run ${e.path}: ${e.error}` }));
}

/**
 * The job summary when the job itself failed before it had results (a bad input, no model matched, a failure
 * outside any one model): what failed, and the models asked for. Without it the summary would be empty.
 */
export function renderJobFailure(error: string, models: readonly string[]): string {
  return [
    '## srq ❌ the job failed',
    '',
    ...table(['models', 'result'], [[models.length ? models.join(', ') : '(not read)', `❌ ${error}`]], new Set()),
    '',
    'No model was validated or published.',
    '',
    `<sub>srq ${SRQ_VERSION}</sub>`,
    '',
  ].join('\n');
}

function candidateOf(o: ModelOutcome, i: number): CandidateResult {
  return o.report.candidates[i]!;
}

function speedup(o: ModelOutcome, c: CandidateResult): string {
  return `${(o.report.reference.latency.seconds / c.latency.seconds).toFixed(2)}×`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[], numeric: ReadonlySet<number>): string[] {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `| ${header.map((_, i) => (numeric.has(i) ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

export interface SummaryOptions {
  /** Where the published files went, when uploaded. */
  artifact?: { name: string; url?: string };
  /** Each model's full validation report in <details> (default true). */
  details?: boolean;
}

export function renderRunSummary(result: RunResult, opts: SummaryOptions = {}): string {
  const full = render(result, opts.details ?? true, opts.artifact);
  return full.length <= SUMMARY_LIMIT ? full : render(result, false, opts.artifact);
}

/** The PR comment: the summary, without per-model details when they would not fit. */
export function renderComment(result: RunResult, marker: string, artifact?: SummaryOptions['artifact']): string {
  const body = (details: boolean) => `${marker}\n${render(result, details, artifact)}`;
  const full = body(true);
  return full.length <= COMMENT_LIMIT ? full : body(false);
}

function render(result: RunResult, details: boolean, artifact: SummaryOptions['artifact']): string {
  const { report } = result;
  const metric = dropMetricOf(report.options);
  const lines: string[] = [];
  const variants = report.models.flatMap((m) => m.variants);
  const failed = variants.filter((v) => !v.passed).length;
  const errors = result.errors;
  const models = report.models.length + errors.length;
  lines.push(
    models === 0
      ? '## srq: nothing to run'
      : errors.length > 0
        ? `## srq ❌ ${errors.length} of ${models} models could not be run${failed ? `; ${failed} of ${variants.length} variants failed the quality gate` : ''}`
        : failed === 0
          ? `## srq ✅ ${variants.length} of ${variants.length} variants passed`
          : `## srq ❌ ${failed} of ${variants.length} variants failed the quality gate`,
    '',
  );
  if (models === 0) {
    lines.push(`${report.summary}.`, '');
    return lines.join('\n');
  }
  const images = result.models[0]?.outcome.report.images.length ?? 0;
  const builtIn = (given: readonly string[]) => (given.length ? '' : "srq's built-in ");
  const { calibrationPhotos: calibrated, evaluationPhotos: validated } = report.options;
  lines.push(`Gate: ${budgetText(report.options)} vs FP32 · ${images} evaluation images · ${report.options.runtime === 'node' ? 'onnxruntime-node' : 'onnxruntime-web (wasm)'} · ${report.options.tileSize}² tiles`, '');
  const method = `${report.options.calibrationMethod} ranges${report.options.equalization ? ', equalized' : ''}${report.options.gptq ? ', GPTQ weights' : ''}${report.options.biasCorrection ? ', bias-corrected' : ''}`;
  if (calibrated.length) lines.push(`Calibrated (${method}) on ${builtIn(report.options.calibrationImages)}photos ${calibrated.join(', ')}.`, '');
  lines.push(`Validated on ${builtIn(report.options.evaluationImages)}photos ${validated.join(', ')}${calibrated.some((c) => validated.includes(c)) ? ' (⚠️ some also calibrated)' : ' (held out: none calibrated)'}.`, '');

  const label = METRIC_LABEL[metric];
  const rows = result.models.flatMap(({ outcome: o }) =>
    o.variants.map((v, i) => {
      const c = candidateOf(o, i);
      return [
        o.name,
        v.quantization,
        `${formatBytes(v.bytes)} (${Math.round((v.bytes / o.bytes) * 100)}%)`,
        formatDb(c.mean.psnrY),
        formatValue(metric, gatedValue(metric, c)),
        c.mean.ssimY.toFixed(4),
        formatDb(c.mean.fidelity),
        speedup(o, c),
        c.coverage ? percent(c.coverage.int8MacShare) : '—',
        v.passed ? '✅ pass' : '❌ fail',
      ];
    }));
  // A model that could not be run still has its row, saying what failed.
  for (const e of errors) rows.push([e.name, '—', '', '', '', '', '', '', '', `❌ error: ${e.error}`]);
  lines.push(...table(['model', 'variant', 'size (of FP32)', 'PSNR-Y dB', `drop ${label}`, 'SSIM-Y', 'fidelity dB', 'speed vs FP32', 'int8 coverage', 'result'], rows, new Set([2, 3, 4, 5, 6, 7, 8])), '');

  const failures = result.models.flatMap((r) => failureLines(r.outcome.report));
  if (failures.length) lines.push('**Failed:**', '', ...failures.map((f) => `- ${f}`), '');
  const warnings = result.models.flatMap(({ outcome: o }) => {
    const w = dropGateWarning(o.report, o.gate);
    return [...(w ? [`- ${o.name}: ${w}.`] : []), ...slowerLines(o.report).map((line) => `- ${line}.`)];
  });
  if (warnings.length) lines.push('**⚠️ Warnings:**', '', ...warnings, '');
  const notes = result.models.flatMap(({ outcome: o }) => o.variants.filter((v) => v.note).map((v) => `- ${o.name} ${v.quantization}: ${v.note}`));
  if (notes.length) lines.push('**Accuracy-aware INT8:**', '', ...notes, '');
  const hits = report.models.filter((m) => m.cache === 'hit').map((m) => m.name);
  if (hits.length) lines.push(`**Restored from the cache** (no quantization or validation): ${hits.join(', ')}.`, '');
  if (report.skipped.length) lines.push(`**Skipped:** ${report.skipped.map((s) => `\`${s.path}\` (${s.reason})`).join(', ')}.`, '');

  const published = result.manifest.models.length;
  if (artifact) {
    const name = artifact.url ? `[\`${artifact.name}\`](${artifact.url})` : `\`${artifact.name}\``;
    lines.push(`**Published:** ${published} file${published === 1 ? '' : 's'} and \`manifest.json\` in the artifact ${name}. Each model's HTML report, with side-by-side crops and amplified differences, is \`reports/<model>.report.html\` in the artifact.`, '');
  } else {
    lines.push(`**Written:** ${published} published file${published === 1 ? '' : 's'}, \`manifest.json\` and the reports (\`reports/<model>.report.html\` has side-by-side crops) in \`${result.options.outDir}\`.`, '');
  }

  if (report.base) lines.push(...comparison(result), '');
  if (details) {
    for (const { outcome: o } of result.models) {
      const body = renderMarkdown(o.report).replace(/^## srq validation\n\n/, '');
      lines.push(`<details><summary>${o.name}: full validation report</summary>`, '', body, '</details>', '');
    }
  }
  lines.push(`<sub>srq ${SRQ_VERSION} · ${report.summary}</sub>`, '');
  return lines.join('\n');
}

/** Before → after for each changed model, against the base revision's version under the same options. */
function comparison(result: RunResult): string[] {
  const { report } = result;
  const base = report.base!;
  const metric = dropMetricOf(report.options);
  const arrow = (before: string, after: string) => (before === after ? after : `${before} → ${after}`);
  const rows: string[][] = [];
  for (const r of result.models) {
    const o = r.outcome;
    if (r.base === 'new' || r.base === null || r.base === undefined) {
      rows.push([o.name, '—', r.base === 'new' ? 'new model' : 'base not run', '', '', '', '']);
      continue;
    }
    const b = r.base;
    o.variants.forEach((v, i) => {
      const bi = b.variants.findIndex((x) => x.quantization === v.quantization);
      const c = candidateOf(o, i);
      if (bi < 0) {
        rows.push([o.name, v.quantization, 'new variant', '', '', '', '']);
        return;
      }
      const bc = candidateOf(b, bi);
      const bv = b.variants[bi]!;
      rows.push([
        o.name,
        v.quantization,
        arrow(formatDb(bc.mean.psnrY), formatDb(c.mean.psnrY)),
        arrow(formatValue(metric, gatedValue(metric, bc)), formatValue(metric, gatedValue(metric, c))),
        arrow(formatDb(bc.mean.fidelity), formatDb(c.mean.fidelity)),
        arrow(formatBytes(bv.bytes), formatBytes(v.bytes)),
        arrow(bv.passed ? '✅' : '❌', v.passed ? '✅' : '❌'),
      ]);
    });
  }
  const where = base.mergeBase ? `${base.rev} (merge base ${base.commit.slice(0, 7)})` : `${base.rev} (${base.commit.slice(0, 7)})`;
  return [
    `### Compared with ${where}`,
    '',
    ...table(['model', 'variant', 'PSNR-Y dB', `drop ${METRIC_LABEL[metric]}`, 'fidelity dB', 'size', 'result'], rows, new Set([2, 3, 4, 5])),
  ];
}
