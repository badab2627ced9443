// srq validate: candidates (INT8, FP16...) against a reference model on ground-truth photos, with a quality gate.
import { statSync } from 'node:fs';
import { readImages } from '../src-core/image/image-files.node.ts';
import { builtInPhotos } from '../src-core/package-root.node.ts';
import { renderHtml } from '../src-core/report/html.ts';
import { renderMarkdown } from '../src-core/report/markdown.ts';
import { setupLine, summaryTable, textTable } from '../src-core/report/summary.ts';
import { createRunner } from '../src-core/runtime/create-runner.node.ts';
import { applyGate } from '../src-core/validate/gate.ts';
import { reportToJson, type GateLimits, type GateMetric } from '../src-core/validate/schema.ts';
import { validateModels, type ModelUnderTest } from '../src-core/validate/validate.ts';
import type { ModelDescription, ModelOverrides } from '../src-core/model/description.ts';
import { intFlag, oneOf, parse } from './args.ts';
import { EXIT_FAILED, EXIT_OK, UsageError } from './errors.ts';
import { checkOutputPath, endProgress, progressReporter, writeOutput } from './files.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, modelOverrides, resolveModelFile } from './model-args.ts';

const help = `usage: srq validate <reference.onnx> <candidate.onnx>... [options]

Scores every model on ground-truth photos the way SR papers do (BasicSR convention): each photo is cropped to a
multiple of the scale s and downscaled ×s with MATLAB's imresize bicubic (Keys a = -0.5, antialiased); every
model upscales it through srq's tiled engine (the edge's); PSNR (Y and RGB) and SSIM (Y) are taken against the
photo with s px cropped from each border. Fidelity = RGB PSNR of a candidate's output vs the reference's output.
Drop = reference − candidate on the chosen metric.

  --images <dir|file>       ground-truth photos (repeatable; default: srq's built-in evaluation photos, which
                            its default calibration never uses)
  --metric M                psnr-y (default), psnr-rgb, ssim or fidelity: what the gate looks at
  --max-drop X              fail (exit 1) when a candidate's mean drop exceeds X (dB; SSIM units for ssim)
  --max-image-drop X        fail when the drop on any one image exceeds X
  --min-fidelity dB         with --metric fidelity: fail when a candidate's mean fidelity is below this
  --min-image-fidelity dB   with --metric fidelity: fail when any one image's fidelity is below this
                            (fidelity limits imply --metric fidelity; use them for GAN-style models whose
                            ground-truth PSNR says little)
  --json <file>             report as JSON (schema srq.validation/1)
  --markdown <file>         report as Markdown (e.g. $GITHUB_STEP_SUMMARY)
  --html <file>             self-contained HTML page with side-by-side crops and amplified differences
  --tile N                  tile size in input pixels (default 128)
  --runtime node|web        onnxruntime-node (default) or onnxruntime-web (wasm, as on the edge)
  --threads N               inference threads
${MODEL_FLAGS_HELP}

Exit codes: 0 every candidate within the limits (or no limits given), 1 a limit exceeded, 2 usage or input error.`;

/** A flag's value as a finite number ≥ 0, or undefined when absent. */
export function limitFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number ≥ 0, got "${value}"`);
  return n;
}

/** The gate's metric and limits from the flags, refusing limits that do not fit the metric. */
export function gateLimits(values: { metric?: string; 'max-drop'?: string; 'max-image-drop'?: string; 'min-fidelity'?: string; 'min-image-fidelity'?: string }): GateLimits {
  const maxDrop = limitFlag('max-drop', values['max-drop']);
  const maxImageDrop = limitFlag('max-image-drop', values['max-image-drop']);
  const minFidelity = limitFlag('min-fidelity', values['min-fidelity']);
  const minImageFidelity = limitFlag('min-image-fidelity', values['min-image-fidelity']);
  const dropLimits = maxDrop !== undefined || maxImageDrop !== undefined;
  const fidelityLimits = minFidelity !== undefined || minImageFidelity !== undefined;
  const implied: GateMetric = fidelityLimits && !dropLimits ? 'fidelity' : 'psnr-y';
  const metric = oneOf('metric', values.metric, ['psnr-y', 'psnr-rgb', 'ssim', 'fidelity'] as const, implied);
  if (metric === 'fidelity' && dropLimits) throw new UsageError('--metric fidelity is a minimum, not a drop: use --min-fidelity / --min-image-fidelity dB instead of --max-drop');
  if (metric !== 'fidelity' && fidelityLimits) throw new UsageError(`--min-fidelity gates fidelity; drop --metric ${metric} (or use --max-drop for ${metric})`);
  return {
    metric,
    ...(maxDrop !== undefined ? { maxDrop } : {}),
    ...(maxImageDrop !== undefined ? { maxImageDrop } : {}),
    ...(minFidelity !== undefined ? { minFidelity } : {}),
    ...(minImageFidelity !== undefined ? { minImageFidelity } : {}),
  };
}

/**
 * Each file resolved on its own (a candidate may come from another tool and take another pixel range); all are
 * tiled with the reference's geometry, which each candidate must share.
 */
export async function loadModels(paths: readonly string[], overrides: ModelOverrides): Promise<{ models: ModelUnderTest[]; description: ModelDescription }> {
  const resolved = [];
  for (const path of paths) resolved.push(await resolveModelFile(path, path === paths[0] ? overrides : {}));
  const reference = resolved[0]!.description;
  resolved.forEach(({ description: d }, i) => {
    if (d.scale !== reference.scale || d.border !== reference.border) {
      throw new UsageError(`${paths[i]} upscales ×${d.scale} with border ${d.border} but the reference ${paths[0]} ×${reference.scale} with border ${reference.border}; compare variants of one model`);
    }
  });
  const models = resolved.map(({ model }, i) => ({ path: paths[i]!, model, bytes: statSync(paths[i]!).size }));
  return { models, description: reference };
}

export async function validateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('validate', argv, {
    images: { type: 'string', multiple: true },
    metric: { type: 'string' },
    'max-drop': { type: 'string' },
    'max-image-drop': { type: 'string' },
    'min-fidelity': { type: 'string' },
    'min-image-fidelity': { type: 'string' },
    json: { type: 'string' },
    markdown: { type: 'string' },
    html: { type: 'string' },
    tile: { type: 'string' },
    runtime: { type: 'string' },
    threads: { type: 'string' },
    ...MODEL_FLAGS,
  });
  if (values.help) return console.log(help), EXIT_OK;
  if (positionals.length < 2) throw new UsageError('validate needs a reference model and at least one candidate (srq validate <fp32.onnx> <int8.onnx>...)');
  const limits = gateLimits(values);
  const runtime = oneOf('runtime', values.runtime, ['node', 'web'] as const, 'node');
  const threads = values.threads !== undefined ? intFlag('threads', values.threads, 1) : undefined;
  const tileSize = intFlag('tile', values.tile, 128, 8);
  const imagePaths = values.images?.length ? values.images : builtInPhotos('evaluation');
  const inputs = [...positionals, ...imagePaths];
  const outputs = [values.json, values.markdown, values.html].filter((p): p is string => p !== undefined);
  for (const out of outputs) checkOutputPath(out, inputs);

  const { models, description } = await loadModels(positionals, modelOverrides(values));
  const [reference, ...candidates] = models;
  const images = readImages(imagePaths);
  const progress = progressReporter();
  const { report: measured, crops } = await validateModels(reference!, candidates, {
    images,
    createRunner: (bytes) => createRunner(runtime, bytes, threads !== undefined ? { threads } : {}),
    runtime,
    ...(threads !== undefined ? { threads } : {}),
    tileSize,
    description,
    cropSize: values.html ? 128 : 0,
    onProgress: progress,
  });
  endProgress();
  const report = applyGate(measured, limits);

  if (values.json) writeOutput(values.json, reportToJson(report), inputs);
  if (values.markdown) writeOutput(values.markdown, renderMarkdown(report), inputs);
  if (values.html) writeOutput(values.html, renderHtml(report, crops), inputs);
  console.log(textTable(summaryTable(report)));
  console.log(`\n${setupLine(report)}`);
  for (const out of outputs) console.log(`wrote ${out}`);
  console.log(report.gate ? report.gate.reason : 'no limits given (--max-drop, --max-image-drop, --min-fidelity): nothing gated');
  return report.gate && !report.gate.passed ? EXIT_FAILED : EXIT_OK;
}
