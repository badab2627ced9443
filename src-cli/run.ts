// srq run: the GitHub Action's job on the command line (same implementation, src-action/job): variants of every
// FP32 model the globs match, validated and gated, with the passing ones, manifest.json and the reports written out.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { throttled, type JobLog } from '../src-action/job/log.ts';
import {
  CALIBRATION_METHODS,
  DEFAULTS,
  parseChoice,
  parsePercent,
  parseQualityBudget,
  parseVariants,
  parsePositive,
  parseWhole,
  splitList,
  type JobOptions,
} from '../src-action/job/options.ts';
import { runJob } from '../src-action/job/run-job.ts';
import { DEFAULT_TIME_BUDGET } from '../src-action/job/time-plan.ts';
import { parse } from './args.ts';
import { EXIT_FAILED, EXIT_OK, UsageError } from './errors.ts';
import { endProgress } from './files.ts';

const help = `usage: srq run <model globs...> [options]

What the srq GitHub Action does, without GitHub: for every FP32 .onnx file the globs match (quote them to let srq
expand them), make each variant, validate it against FP32 on ground-truth photos and gate on the mean drop (or on
fidelity to FP32's output); static INT8 that misses the gate keeps its most harmful layers float until it fits. Writes into the output folder the
variants that passed, manifest.json (the edge worker's format), reports/<model>.report.{json,md,html}, report.json
(srq.run/1) and summary.md. A file srq did not write is never overwritten.

  --variants <list>        int8-static (default), int8-dynamic, fp16 (comma-separated or repeated)
  --max-drop X             largest allowed mean drop vs FP32 (default ${DEFAULTS.maxDrop} dB; SSIM units for ssim)
  --metric M               psnr-y (default), psnr-rgb or ssim: what the drop is measured on; or fidelity
  --min-fidelity dB        gate on fidelity instead: least mean PSNR of each variant's output against FP32's, for
                           models (GAN upscalers) that score below bicubic, where the drop says little
  --min-coverage P         least share (%) of conv/matmul MACs ORT must run in int8 kernels for static INT8 to pass
                           (default ${DEFAULTS.minCoverage}; layers the accuracy-aware search keeps float are accepted)
  --calib <dir|file>       calibration images (repeatable; default: srq's built-in photos)
  --eval <dir|file>        evaluation images with ground truth (repeatable; default: srq's built-in photos)
  --calib-method M         mse (default), percentile, entropy or minmax
  --no-bias-correction     skip empirical bias correction of static INT8 (on by default)
  --no-equalization        skip activation equalization across conv pairs of static INT8 (on by default)
  --no-gptq                round static INT8 conv weights to nearest instead of by GPTQ (on by default)
  --tile N                 calibration and validation tile size in input pixels (default ${DEFAULTS.tileSize})
  --time-budget MIN        minutes each model may take (default ${DEFAULT_TIME_BUDGET}): srq prints its time plan first, refuses a
                           model that cannot fit and skips a fallback search that would not
  --memory-budget GB       memory each model may use at its peak (default: 90% of this machine's): srq prints its
                           memory plan first, measures bias correction in smaller parts to fit, refuses a model
                           that cannot fit
  --scale N                optional: srq measures each model's scale; a given one is checked against it
  --out <dir>              output folder (default ${DEFAULTS.outDir})
  --runtime node|web       onnxruntime-node (default) or onnxruntime-web (wasm)
  --threads N              inference threads
  --base <git revision>    only models changed since it (committed or not), each compared with its version there

Exit codes: 0 every variant passed, 1 a variant failed the gate, 2 usage or input error.`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('run', argv, {
    variants: { type: 'string', multiple: true },
    'max-drop': { type: 'string' },
    'min-fidelity': { type: 'string' },
    'min-coverage': { type: 'string' },
    metric: { type: 'string' },
    calib: { type: 'string', multiple: true },
    eval: { type: 'string', multiple: true },
    'calib-method': { type: 'string' },
    'no-bias-correction': { type: 'boolean' },
    'no-equalization': { type: 'boolean' },
    'no-gptq': { type: 'boolean' },
    tile: { type: 'string' },
    'time-budget': { type: 'string' },
    'memory-budget': { type: 'string' },
    scale: { type: 'string' },
    out: { type: 'string', short: 'o' },
    runtime: { type: 'string' },
    threads: { type: 'string' },
    base: { type: 'string' },
  });
  if (values.help) return console.log(help), EXIT_OK;
  if (positionals.length === 0) throw new UsageError('run needs one or more model files or globs (srq run "models/*.onnx")');
  const options: JobOptions = {
    workspace: process.cwd(),
    models: positionals,
    variants: values.variants ? parseVariants(values.variants.flatMap(splitList), '--variants') : DEFAULTS.variants,
    calibrationImages: values.calib ?? [],
    evaluationImages: values.eval ?? [],
    calibrationMethod: values['calib-method'] ? parseChoice('--calib-method', values['calib-method'], CALIBRATION_METHODS) : DEFAULTS.calibrationMethod,
    biasCorrection: !values['no-bias-correction'],
    equalization: !values['no-equalization'],
    gptq: !values['no-gptq'],
    gate: parseQualityBudget(
      { metric: values.metric, maxDrop: values['max-drop'], minFidelity: values['min-fidelity'] },
      { metric: '--metric', maxDrop: '--max-drop', minFidelity: '--min-fidelity' },
    ),
    minCoverage: values['min-coverage'] !== undefined ? parsePercent('--min-coverage', values['min-coverage']) : DEFAULTS.minCoverage,
    tileSize: values.tile !== undefined ? parseWhole('--tile', values.tile, 8) : DEFAULTS.tileSize,
    outDir: values.out ?? DEFAULTS.outDir,
    ...(values['time-budget'] !== undefined ? { timeBudget: parseWhole('--time-budget', values['time-budget'], 1) } : {}),
    ...(values['memory-budget'] !== undefined ? { memoryBudget: parsePositive('--memory-budget', values['memory-budget']) } : {}),
    runtime: values.runtime ? parseChoice('--runtime', values.runtime, ['node', 'web'] as const) : 'node',
    ...(values.scale !== undefined ? { scale: parseWhole('--scale', values.scale, 1) } : {}),
    ...(values.threads !== undefined ? { threads: parseWhole('--threads', values.threads, 1) } : {}),
    ...(values.base !== undefined ? { base: values.base } : {}),
  };

  const workDir = mkdtempSync(join(tmpdir(), 'srq-run-'));
  try {
    const result = await runJob(options, { log: terminalLog(), workDir });
    endProgress();
    for (const m of result.report.models) {
      for (const v of m.variants) {
        const where = v.published ? ` -> ${relative(process.cwd(), join(result.outDir, v.file))}` : '';
        console.log(`${v.passed ? 'pass' : 'FAIL'}  ${m.name}  ${v.quantization}${where}`);
      }
    }
    for (const e of result.errors) console.log(`ERROR ${e.name}  could not be run: ${e.error}`);
    console.log(`wrote ${relative(process.cwd(), result.outDir) || '.'}/: manifest.json, report.json, summary.md, reports/`);
    console.log(result.report.summary);
    return result.passed ? EXIT_OK : EXIT_FAILED;
  } finally {
    endProgress();
    rmSync(workDir, { recursive: true, force: true });
  }
}

function terminalLog(): JobLog {
  const tty = process.stderr.isTTY;
  const progress = tty ? (m: string) => process.stderr.write(`\r\x1b[K${m}`) : throttled((m) => process.stderr.write(`${m}\n`), 2000);
  return {
    info: (m) => (endProgress(), console.log(m)),
    warning: (m) => (endProgress(), console.error(`warning: ${m}`)),
    progress,
    group: async (title, fn) => {
      endProgress();
      console.log(`\n== ${title}`);
      return fn();
    },
  };
}
