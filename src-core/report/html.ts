// A validation report as one self-contained HTML page (every image inlined as a data: URI, no external files):
// verdict, summary table, failures, and per image the crops of ground truth / reference / each candidate / the
// candidate's amplified difference side by side, with the per-image numbers. Runtime-agnostic.
import { encodePng } from '../image/png-encode.ts';
import type { RasterImage } from '../image/raster.ts';
import { DIFFERENCE_GAIN, type ImageCrops } from '../validate/crops.ts';
import { gatedValue, METRIC_LABEL } from '../validate/gate.ts';
import type { ValidationReport } from '../validate/schema.ts';
import { dropMetric, failureLines, formatDb, formatValue, modelName, setupLine, summaryTable } from './summary.ts';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function dataUri(img: RasterImage): string {
  return `data:image/png;base64,${base64(encodePng(img))}`;
}

function figure(img: RasterImage, caption: string): string {
  return `<figure><img src="${dataUri(img)}" width="${img.width * 2}" height="${img.height * 2}" alt="${escapeHtml(caption)}"><figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

const style = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:28px 0 8px}
.verdict{padding:8px 12px;border-radius:6px;font-weight:600}.pass{background:#dafbe1}.fail{background:#ffebe9}.none{background:#eef1f4}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d0d7de;padding:4px 8px}td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f6f8fa}.setup{color:#57606a;font-size:12px}
.crops{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figure img{image-rendering:pixelated;display:block;border:1px solid #d0d7de}
figcaption{font-size:12px;color:#57606a;max-width:256px}`;

function htmlTable(header: readonly string[], rows: readonly (readonly string[])[], numeric: ReadonlySet<number>): string {
  const head = `<tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.has(i) ? ' class="n"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n${head}\n${body}\n</table>`;
}

export function renderHtml(report: ValidationReport, crops: readonly ImageCrops[]): string {
  const metric = dropMetric(report);
  const verdict = report.gate
    ? `<p class="verdict ${report.gate.passed ? 'pass' : 'fail'}">${escapeHtml(report.gate.reason)}</p>`
    : '<p class="verdict none">No limits given: nothing was gated.</p>';
  const summary = summaryTable(report);
  const failures = failureLines(report);
  const sections = report.reference.images.map((ref, i) => {
    const c = crops.find((x) => x.image === ref.image);
    const numbers = htmlTable(
      ['model', 'PSNR-Y dB', 'PSNR-RGB dB', 'SSIM-Y', `drop ${METRIC_LABEL[metric]}`, 'fidelity dB'],
      [
        [modelName(report.reference.path), formatDb(ref.psnrY), formatDb(ref.psnrRgb), ref.ssimY.toFixed(4), '—', '—'],
        ...report.candidates.map((cand) => {
          const img = cand.images[i]!;
          return [modelName(cand.path), formatDb(img.psnrY), formatDb(img.psnrRgb), img.ssimY.toFixed(4), formatValue(metric, gatedValue(metric, img)), formatDb(img.fidelity)];
        }),
      ],
      new Set([1, 2, 3, 4, 5]),
    );
    const figures = c
      ? `<p class="setup">${c.size}×${c.size} px crop at (${c.x}, ${c.y}), where the candidates differ most from the reference; shown at 2×. Differences are |candidate − reference| × ${DIFFERENCE_GAIN}.</p>
<div class="crops">${[
        figure(c.groundTruth, 'ground truth'),
        figure(c.reference, `${modelName(report.reference.path)} (${report.reference.variant})`),
        ...c.candidates.flatMap((cand, k) => {
          const m = report.candidates[k]!;
          return [figure(cand.output, `${modelName(m.path)} (${m.variant})`), figure(cand.difference, `difference ×${DIFFERENCE_GAIN}: ${modelName(m.path)}`)];
        }),
      ].join('\n')}</div>`
      : '';
    return `<section><h2>${escapeHtml(ref.image)}</h2>\n${figures}\n${numbers}</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>srq validation</title><style>${style}</style></head>
<body>
<h1>srq validation</h1>
${verdict}
${htmlTable(summary.header, summary.rows, summary.numeric)}
${failures.length ? `<p><strong>Failed:</strong></p><ul>${failures.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>` : ''}
<p class="setup">${escapeHtml(setupLine(report))}. srq ${escapeHtml(report.srqVersion)}, ${escapeHtml(report.date)}.</p>
${sections.join('\n')}
</body></html>
`;
}
