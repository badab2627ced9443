// srq quantize: FP32 model -> static INT8 (QDQ, calibrated), dynamic INT8 or FP16.
import { readImages } from '../src-core/image/image-files.node.ts';
import { encodeModel, setMetadata } from '../src-core/onnx/model.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, modelOverrides, resolveModelFile } from './model-args.ts';
import { builtInImagesDir } from '../src-core/package-root.node.ts';
import { cutCalibrationTiles } from '../src-core/quantize/calibration-tiles.ts';
import { quantizeDynamic } from '../src-core/quantize/dynamic.ts';
import { convertToFp16 } from '../src-core/quantize/fp16.ts';
import { tensorErrorReport } from '../src-core/quantize/report.ts';
import { quantizeStatic } from '../src-core/quantize/static.ts';
import { rankingLine, stepLine, verdictLine } from '../src-core/report/budget.ts';
import { createRunner } from '../src-core/runtime/create-runner.node.ts';
import type { RunnerOptions } from '../src-core/runtime/runner.ts';
import { quantizeWithinBudget } from '../src-core/validate/accuracy-aware.ts';
import { intFlag, oneOf, parse } from './args.ts';
import { EXIT_FAILED, UsageError } from './errors.ts';
import { checkOutputPath, endProgress, progressReporter, writeOutput } from './files.ts';
import { limitFlag } from './validate.ts';

const help = `usage: srq quantize <model.onnx> -o <out.onnx> [options]

  --mode int8-static|int8-dynamic|fp16   default int8-static
  --calib <dir|file>        calibration images (repeatable; default: srq's built-in photos)
  --calib-method minmax|percentile|entropy   default percentile
  --percentile P            share of values kept for --calib-method percentile (default 99.999)
  --calib-tiles N           tiles cut from the calibration images (default 32)
  --tile N                  calibration tile size in pixels (default 128)
  --seed N                  where the tiles are cut (default 1; same seed, same model)
  --activations u8|s8       activation type (default u8: what ORT's x86 and wasm int8 kernels want)
  --exclude <names>         node names or op types to keep float (comma-separated, repeatable)
  --report <file.json>      per-tensor error report (SQNR in dB vs the float model, worst first;
                            null where the tensor is exact)
  --runtime node|web        runtime for calibration and validation (default node)
  --threads N               inference threads (default: ORT's choice)

Accuracy-aware (int8-static only): quantize, validate against the FP32 model on ground-truth photos, and while the
drop exceeds the budget keep the most harmful layers (ranked by measured sensitivity) in float; writes the fastest
model within the budget, or exits 1 when even an almost-float model misses it.
  --max-drop X              largest allowed mean drop vs FP32 (dB; SSIM units for --metric ssim)
  --eval <dir|file>         validation photos (repeatable; default: srq's built-in photos)
  --metric psnr-y|psnr-rgb|ssim   what the drop is measured on (default psnr-y)
${MODEL_FLAGS_HELP}`;

export async function quantizeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('quantize', argv, {
    output: { type: 'string', short: 'o' },
    mode: { type: 'string' },
    calib: { type: 'string', multiple: true },
    'calib-method': { type: 'string' },
    percentile: { type: 'string' },
    'calib-tiles': { type: 'string' },
    tile: { type: 'string' },
    seed: { type: 'string' },
    activations: { type: 'string' },
    exclude: { type: 'string', multiple: true },
    report: { type: 'string' },
    runtime: { type: 'string' },
    threads: { type: 'string' },
    'max-drop': { type: 'string' },
    eval: { type: 'string', multiple: true },
    metric: { type: 'string' },
    ...MODEL_FLAGS,
  });
  if (values.help) return console.log(help), 0;
  if (positionals.length !== 1) throw new UsageError('quantize needs exactly one model file (srq quantize <model.onnx> -o <out.onnx>)');
  if (!values.output) throw new UsageError('quantize needs -o <out.onnx> (srq never overwrites the input)');
  const input = positionals[0]!;
  checkOutputPath(values.output, [input]);
  if (values.report) checkOutputPath(values.report, [input]);
  const mode = oneOf('mode', values.mode, ['int8-static', 'int8-dynamic', 'fp16'] as const, 'int8-static');
  const method = oneOf('calib-method', values['calib-method'], ['minmax', 'percentile', 'entropy'] as const, 'percentile');
  const percentile = values.percentile !== undefined ? Number(values.percentile) : 99.999;
  if (!(percentile > 50 && percentile <= 100)) throw new UsageError(`--percentile must be in (50, 100], got "${values.percentile}"`);
  const runtime = oneOf('runtime', values.runtime, ['node', 'web'] as const, 'node');
  const threads = values.threads !== undefined ? intFlag('threads', values.threads, 1) : undefined;
  const exclude = (values.exclude ?? []).flatMap((e) => e.split(',')).map((e) => e.trim()).filter(Boolean);
  const maxDrop = limitFlag('max-drop', values['max-drop']);
  if (maxDrop === undefined && (values.eval || values.metric)) throw new UsageError('--eval and --metric belong to accuracy-aware quantization: add --max-drop <dB>');
  if (maxDrop !== undefined && mode !== 'int8-static') throw new UsageError(`--max-drop needs --mode int8-static (${mode} has no layers to keep float)`);
  const metric = oneOf('metric', values.metric, ['psnr-y', 'psnr-rgb', 'ssim'] as const, 'psnr-y');
  // The model in srq's contract (e.g. a [0, 255] model rewritten to take [0, 1]), its facts checked against the graph.
  const resolved = await resolveModelFile(input, modelOverrides(values));
  const model = resolved.model;
  const started = performance.now();
  const progress = progressReporter();
  const runnerFactory = (bytes: Uint8Array, hints: RunnerOptions = {}) => createRunner(runtime, bytes, { ...hints, ...(threads !== undefined ? { threads } : {}) });

  let output;
  let summary: string;
  let report: unknown;
  if (mode === 'int8-static') {
    const tileSize = intFlag('tile', values.tile, 128, 8);
    const count = intFlag('calib-tiles', values['calib-tiles'], 32);
    const images = readImages(values.calib?.length ? values.calib : [builtInImagesDir()]);
    const tiles = cutCalibrationTiles(images, { count, tileSize, seed: intFlag('seed', values.seed, 1, 0) });
    const staticOptions = {
      tiles,
      method,
      percentile,
      activationType: oneOf('activations', values.activations, ['u8', 's8'] as const, 'u8'),
      exclude,
      createRunner: runnerFactory,
      onProgress: progress,
      name: input,
    };
    let result;
    let keptFloat = '';
    if (maxDrop === undefined) {
      result = await quantizeStatic(model, staticOptions);
    } else {
      const evalImages = readImages(values.eval?.length ? values.eval : [builtInImagesDir()]);
      const say = (line: string) => (endProgress(), console.log(line));
      const budget = await quantizeWithinBudget(resolved, {
        ...staticOptions,
        evalImages,
        maxDrop,
        metric,
        runtime,
        ...(threads !== undefined ? { threads } : {}),
        onStep: (step) => say(stepLine(step, metric, maxDrop)),
        onRanking: (ranking) => say(rankingLine(ranking)),
      });
      endProgress();
      if (!budget.best) {
        console.error(`srq: ${verdictLine(budget, metric, maxDrop)}`);
        return EXIT_FAILED;
      }
      result = budget.best.quantized;
      const { floatNodes: nodes, drop } = budget.best.step;
      // Provenance: which nodes the budget kept float, and the budget it was validated against.
      setMetadata(result.model, 'srq.float_nodes', nodes.join(','));
      setMetadata(result.model, 'srq.max_drop', `${maxDrop} ${metric} on ${evalImages.length} images (measured ${drop.toFixed(4)})`);
      keptFloat = `\n${verdictLine(budget, metric, maxDrop)}`;
    }
    output = result.model;
    summary = `int8-static: ${result.plan.quantizedNodes.size} nodes quantized, ${result.plan.folded.length} activations folded, calibrated (${method}) on ${tiles.length} tiles of ${tileSize}² from ${images.length} images${keptFloat}`;
    if (values.report) {
      progress('per-tensor error report…');
      const errors = await tensorErrorReport(result.floatModel, result.model, [...result.params.keys()], tiles.slice(0, 8), runnerFactory);
      report = { model: input, mode, method, tiles: Math.min(8, tiles.length), tensors: errors };
    }
  } else if (mode === 'int8-dynamic') {
    const result = quantizeDynamic(model, { exclude, name: input });
    output = result.model;
    summary = `int8-dynamic: ${result.quantizedNodes.length} Conv/MatMul nodes quantized`;
  } else {
    const result = convertToFp16(model, { name: input });
    output = result.model;
    summary = `fp16: ${result.clampedValues} weight values clamped to ±65504, ${result.keptFloat32.length} shape tensors kept float32`;
  }
  endProgress();
  const bytes = encodeModel(output);
  writeOutput(values.output, bytes, [input]);
  if (values.report && report) writeOutput(values.report, JSON.stringify(report, null, 2) + '\n', [input]);
  const inBytes = encodeModel(model).length;
  console.log(`${summary}\nwrote ${values.output}: ${(bytes.length / 1e6).toFixed(2)} MB (${((bytes.length / inBytes) * 100).toFixed(0)}% of FP32) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}
