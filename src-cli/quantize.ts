// srq quantize: FP32 model -> static INT8 (QDQ, calibrated), dynamic INT8 or FP16.
import { readImages, sharedImages, type NamedImage } from '../src-core/image/image-files.node.ts';
import type { ResolvedModel } from '../src-core/model/description.ts';
import type { ModelProto } from '../src-core/onnx/types.ts';
import { encodeModel, setMetadata } from '../src-core/onnx/model.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, modelOverrides, resolveModelFile } from './model-args.ts';
import { builtInPhotos } from '../src-core/package-root.node.ts';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import { checkFloatModel } from '../src-core/quantize/checks.ts';
import { cutCalibrationTiles } from '../src-core/quantize/calibration-tiles.ts';
import { quantizeDynamic } from '../src-core/quantize/dynamic.ts';
import { convertToFp16 } from '../src-core/quantize/fp16.ts';
import { checkCoverage, coverageLine, DEFAULT_MIN_COVERAGE } from '../src-core/quantize/coverage.ts';
import { int8Coverage } from '../src-core/quantize/coverage.node.ts';
import { tensorErrorReport } from '../src-core/quantize/report.ts';
import { defaultPreluForm, preluFormOptions, quantizeStatic } from '../src-core/quantize/static.ts';
import { DEFAULT_CALIBRATION_METHOD } from '../src-core/quantize/calibrate.ts';
import { budgetMetadata, rankingLine, stepLine, verdictLine } from '../src-core/report/budget.ts';
import { createRunner } from '../src-core/runtime/create-runner.node.ts';
import { checkModelLoads, ModelLoadError } from '../src-core/runtime/load-check.node.ts';
import { describeUpgrade, type OpsetUpgrade } from '../src-core/onnx/opset-upgrade.ts';
import type { Runner, RunnerOptions } from '../src-core/runtime/runner.ts';
import { layersOf, quantizeWithinBudget, searchPhotos } from '../src-core/validate/accuracy-aware.ts';
import { budgetText, withinBudget } from '../src-core/validate/gate.ts';
import type { CandidateResult } from '../src-core/validate/schema.ts';
import { parseQualityBudget } from '../src-action/job/options.ts';
import { validateModels } from '../src-core/validate/validate.ts';
import { intFlag, oneOf, parse } from './args.ts';
import { EXIT_FAILED, EXIT_USAGE, UsageError } from './errors.ts';
import { checkOutputPath, endProgress, progressReporter, writeOutput } from './files.ts';
import { limitFlag } from './validate.ts';

const help = `usage: srq quantize <model.onnx> -o <out.onnx> [options]

  --mode int8-static|int8-dynamic|fp16   default int8-static
  --calib <dir|file>        calibration images (repeatable; default: srq's built-in calibration photos)
  --calib-method minmax|percentile|entropy|mse   default mse (least squared error per tensor)
  --no-bias-correction      skip empirical bias correction (each conv's mean shift from quantization,
                            measured on the calibration tiles, taken out of its bias; on by default)
  --no-equalization         skip activation equalization (per-channel scales moved across conv pairs so one
                            int8 range fits every channel between them; on by default)
  --no-gptq                 round conv weights to nearest instead of by GPTQ (each conv's rounding error
                            compensated within its row from its input statistics on the calibration tiles)
  --percentile P            share of values kept for --calib-method percentile (default 99.999)
  --calib-tiles N           tiles cut from the calibration images (default 32)
  --tile N                  calibration tile size in pixels (default 128)
  --seed N                  where the tiles are cut (default 1; same seed, same model)
  --activations u8|s8       activation type (default u8: what ORT's x86 and wasm int8 kernels want)
  --exclude <names>         node names or op types to keep float (comma-separated, repeatable)
  --prelu mul-add|pair-conv|whole   int8-static: how PReLUs run (default: pair-conv with --runtime node, whole
                            with web). pair-conv: Concat(y, |y|) → 1×1 conv, every op int8, on x4fast the fastest on
                            ORT-node; whole: DQ → float PRelu → Q, as close to FP32 and as fast as mul-add on wasm;
                            mul-add: int8 element-wise ops, 1 dB further from FP32 on x4fast
  --report <file.json>      per-tensor error report (SQNR in dB vs the float model, worst first;
                            null where the tensor is exact)
  --min-coverage P          int8-static: least share (%) of conv/matmul MACs ORT must run in int8 kernels
                            (default ${DEFAULT_MIN_COVERAGE}); below it, exit 1 naming the layers left float and why
  --runtime node|web        runtime for calibration and validation (default node)
  --threads N               inference threads (default: every core; web: 1)

Accuracy-aware (int8-static only): quantize, validate against the FP32 model on the calibration photos, and while
the drop exceeds the budget keep the most harmful layers (ranked by measured sensitivity) in float; then confirm
the choice on held-out photos it never searched on. Writes the fastest model within the budget, or exits 1 when
even an almost-float model misses it, or when the choice misses it on the held-out photos.
  --max-drop X              largest allowed mean drop vs FP32 (dB; SSIM units for --metric ssim)
  --min-fidelity dB         or a least mean fidelity (PSNR of the output against FP32's), for GAN upscalers
  --eval <dir|file>         held-out photos that confirm the choice (repeatable; default: srq's built-in
                            evaluation photos, disjoint from its calibration photos)
  --metric psnr-y|psnr-rgb|ssim   what the drop is measured on (default psnr-y)
${MODEL_FLAGS_HELP}`;

export async function quantizeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('quantize', argv, {
    output: { type: 'string', short: 'o' },
    mode: { type: 'string' },
    calib: { type: 'string', multiple: true },
    'calib-method': { type: 'string' },
    'no-bias-correction': { type: 'boolean' },
    'no-equalization': { type: 'boolean' },
    'no-gptq': { type: 'boolean' },
    percentile: { type: 'string' },
    'calib-tiles': { type: 'string' },
    tile: { type: 'string' },
    seed: { type: 'string' },
    activations: { type: 'string' },
    exclude: { type: 'string', multiple: true },
    prelu: { type: 'string' },
    report: { type: 'string' },
    runtime: { type: 'string' },
    threads: { type: 'string' },
    'max-drop': { type: 'string' },
    'min-fidelity': { type: 'string' },
    eval: { type: 'string', multiple: true },
    metric: { type: 'string' },
    'min-coverage': { type: 'string' },
    ...MODEL_FLAGS,
  });
  if (values.help) return console.log(help), 0;
  if (positionals.length !== 1) throw new UsageError('quantize needs exactly one model file (srq quantize <model.onnx> -o <out.onnx>)');
  if (!values.output) throw new UsageError('quantize needs -o <out.onnx> (srq never overwrites the input)');
  const input = positionals[0]!;
  checkOutputPath(values.output, [input]);
  if (values.report) checkOutputPath(values.report, [input]);
  const mode = oneOf('mode', values.mode, ['int8-static', 'int8-dynamic', 'fp16'] as const, 'int8-static');
  const method = oneOf('calib-method', values['calib-method'], ['minmax', 'percentile', 'entropy', 'mse'] as const, DEFAULT_CALIBRATION_METHOD);
  const percentile = values.percentile !== undefined ? Number(values.percentile) : 99.999;
  if (!(percentile > 50 && percentile <= 100)) throw new UsageError(`--percentile must be in (50, 100], got "${values.percentile}"`);
  const runtime = oneOf('runtime', values.runtime, ['node', 'web'] as const, 'node');
  const threads = values.threads !== undefined ? intFlag('threads', values.threads, 1) : undefined;
  const exclude = (values.exclude ?? []).flatMap((e) => e.split(',')).map((e) => e.trim()).filter(Boolean);
  const prelu = oneOf('prelu', values.prelu, ['mul-add', 'pair-conv', 'whole'] as const, defaultPreluForm(runtime));
  if (values.prelu !== undefined && mode !== 'int8-static') throw new UsageError(`--prelu needs --mode int8-static (${mode} keeps PReLUs as they are)`);
  const searched = values['max-drop'] !== undefined || values['min-fidelity'] !== undefined;
  if (!searched && (values.eval || values.metric)) throw new UsageError('--eval and --metric belong to accuracy-aware quantization: add --max-drop <dB> (or --min-fidelity <dB>)');
  const budget = searched
    ? parseQualityBudget({ metric: values.metric, maxDrop: values['max-drop'], minFidelity: values['min-fidelity'] }, { metric: '--metric', maxDrop: '--max-drop', minFidelity: '--min-fidelity' })
    : undefined;
  if (budget && mode !== 'int8-static') throw new UsageError(`${budget.metric === 'fidelity' ? '--min-fidelity' : '--max-drop'} needs --mode int8-static (${mode} has no layers to keep float)`);
  const minCoverage = limitFlag('min-coverage', values['min-coverage']) ?? DEFAULT_MIN_COVERAGE;
  if (minCoverage > 100) throw new UsageError(`--min-coverage is a percentage of MACs (0–100), got "${values['min-coverage']}"`);
  // The model in srq's contract (e.g. a [0, 255] model rewritten to take [0, 1]), its facts checked against the graph.
  // The quantizer's own refusals (already quantized, no float weights) come first: they name the real problem.
  const source = readModelFile(input);
  checkFloatModel(source, input);
  const resolved = await resolveModelFile(input, modelOverrides(values), source);
  const model = resolved.model;
  const started = performance.now();
  const progress = progressReporter();
  const runnerFactory = (bytes: Uint8Array, hints: RunnerOptions = {}) => createRunner(runtime, bytes, { ...hints, ...(threads !== undefined ? { threads } : {}) });

  let output;
  let summary: string;
  let report: unknown;
  let opsetUpgrade: OpsetUpgrade | undefined;
  if (mode === 'int8-static') {
    const tileSize = intFlag('tile', values.tile, 128, 8);
    const count = intFlag('calib-tiles', values['calib-tiles'], 32);
    const calibPaths = values.calib?.length ? values.calib : builtInPhotos('calibration');
    const images = readImages(calibPaths);
    const tiles = cutCalibrationTiles(images, { count, tileSize, seed: intFlag('seed', values.seed, 1, 0) });
    const staticOptions = {
      tiles,
      method,
      percentile,
      biasCorrection: !values['no-bias-correction'],
      equalization: !values['no-equalization'],
      gptq: !values['no-gptq'],
      activationType: oneOf('activations', values.activations, ['u8', 's8'] as const, 'u8'),
      exclude,
      ...preluFormOptions(prelu),
      createRunner: runnerFactory,
      onProgress: progress,
      name: input,
    };
    let result;
    let keptFloat = '';
    if (budget === undefined) {
      result = await quantizeStatic(model, staticOptions);
    } else {
      const evalPaths = values.eval?.length ? values.eval : builtInPhotos('evaluation');
      const leaked = sharedImages(calibPaths, evalPaths);
      if (leaked.length) console.error(`srq: warning: ${leaked.join(', ')} both calibrate and confirm; give --eval photos that --calib does not hold`);
      const evalImages = readImages(evalPaths);
      const say = (line: string) => (endProgress(), console.log(line));
      const heldOut = (m: ModelProto) => confirmOnHeldOut(resolved, m, evalImages, { runtime, threads, createRunner: runnerFactory, onProgress: progress });
      const photos = `${evalImages.length} held-out photos`;
      const measuredText = (value: number) => (budget.metric === 'fidelity' ? `fidelity ${value.toFixed(2)} dB` : `drop ${value.toFixed(4)} ${budget.metric}`);
      // Round 1 (all int8) on the held-out photos first: within the budget, no layer need stay float. Outside it, the
      // search aims at the budget itself on the calibration crops (not at the held-out shortfall, as srq run's does):
      // the crops' fidelity gains were twice to eight times the held-out photos' on esrgan-slim-x4, so the shortfall
      // aim missed on the held-out photos, where the budget itself on the harder crops holds with room.
      const first = await quantizeStatic(model, staticOptions);
      const firstHeldOut = withinBudget(budget, await heldOut(first.model));
      endProgress();
      let value: number;
      if (firstHeldOut.within) {
        result = first;
        value = firstHeldOut.value;
        say(`all ${layersOf(first).length} layers int8: ${measuredText(value)} on ${photos}, within ${budgetText(budget)}; no search needed`);
        setMetadata(result.model, 'srq.float_nodes', '');
      } else {
        say(`all ${layersOf(first).length} layers int8: ${measuredText(firstHeldOut.value)} on ${photos}, outside ${budgetText(budget)}: searching for layers to keep float`);
        const search = await quantizeWithinBudget(resolved, {
          ...staticOptions,
          first,
          // Search on the calibration photos; the held-out ones only confirm the final choice.
          evalImages: searchPhotos(images),
          budget,
          runtime,
          ...(threads !== undefined ? { threads } : {}),
          onStep: (step) => say(stepLine(step, budget)),
          onRanking: (ranking) => say(rankingLine(ranking)),
        });
        endProgress();
        if (!search.best) {
          console.error(`srq: ${verdictLine(search, budget)}`);
          return EXIT_FAILED;
        }
        result = search.best.quantized;
        const confirmed = withinBudget(budget, await heldOut(result.model));
        endProgress();
        value = confirmed.value;
        if (!confirmed.within) {
          console.error(`srq: the search's choice (${search.best.step.keptFloat.length} layers float) has ${measuredText(value)} on ${photos}, outside the gate (${budgetText(budget)}) it met on the calibration photos; nothing written (try a looser budget or more calibration photos)`);
          return EXIT_FAILED;
        }
        say(`confirmed on ${photos} (${evalImages.map((i) => i.name).join(', ')}): ${measuredText(value)}, within ${budgetText(budget)}`);
        // Provenance: which nodes the budget kept float.
        setMetadata(result.model, 'srq.float_nodes', search.best.step.floatNodes.join(','));
        keptFloat = `\n${verdictLine(search, budget)}`;
      }
      setMetadata(result.model, ...budgetMetadata(budget, value, ` on ${evalImages.length} images`));
    }
    output = result.model;
    opsetUpgrade = result.opsetUpgrade;
    // What the quantizer could not do as asked (an op it cannot type, a bias that overflowed int32) is said, not hidden.
    for (const w of result.plan.warnings) console.error(`srq: warning: ${w.message}`);
    summary = `int8-static: ${result.plan.quantizedNodes.size} nodes quantized, ${result.plan.folded.length} activations folded, ${result.biasCorrection ? `${result.biasCorrection.convs} conv biases corrected, ` : ''}calibrated (${method}) on ${tiles.length} tiles of ${tileSize}² from ${images.length} images (${images.map((i) => i.name).join(', ')})${keptFloat}`;
    if (values.report) {
      progress('per-tensor error report…');
      const errors = await tensorErrorReport(result.floatModel, result.model, [...result.params.keys()], tiles.slice(0, 8), runnerFactory, result.calibration.elements, progress);
      report = { model: input, mode, method, tiles: Math.min(8, tiles.length), tensors: errors };
    }
  } else if (mode === 'int8-dynamic') {
    const result = quantizeDynamic(model, { exclude, name: input });
    output = result.model;
    opsetUpgrade = result.opsetUpgrade;
    summary = `int8-dynamic: ${result.quantizedNodes.length} Conv/MatMul nodes quantized`;
  } else {
    const result = convertToFp16(model, { name: input });
    output = result.model;
    const blocked = result.float32Nodes.length > 0 ? `, ${result.float32Nodes.length} nodes run in float32 (${result.float32Nodes.join(', ')})` : '';
    summary = `fp16: ${result.clampedValues} weight values clamped to ±65504, ${result.keptFloat32.length} shape tensors kept float32${blocked}, ${result.casts} casts`;
  }
  if (opsetUpgrade) summary += `\nupgraded ${describeUpgrade(opsetUpgrade)}`;
  endProgress();
  if (exclude.length) setMetadata(output, 'srq.exclude', exclude.join(','));
  const bytes = encodeModel(output);
  // Nothing is written that onnxruntime would refuse.
  progress('checking that the model loads in onnxruntime…');
  try {
    await checkModelLoads(bytes, {
      name: values.output,
      source: { bytes: encodeModel(model), name: input },
      advice: mode === 'fp16'
        ? `float16 cannot hold this model's values, or srq converted it wrongly (report it with ${input}); use --mode int8-static or int8-dynamic`
        : `this is an srq bug: please report it with ${input}; meanwhile try another --mode or --exclude the op it names`,
    });
  } catch (e) {
    if (!(e instanceof ModelLoadError)) throw e;
    endProgress();
    console.error(`srq: ${e.message}`);
    return e.inputFails ? EXIT_USAGE : EXIT_FAILED;
  }
  if (mode !== 'fp16') {
    // How much of the conv/matmul work ORT really runs in int8; static INT8 below the minimum is not written.
    progress('measuring int8 coverage…');
    const coverage = await int8Coverage(bytes);
    endProgress();
    summary += `\n${coverageLine(coverage)}`;
    if (coverage.quantizedByOrt.length) summary += `\nORT runs in int8 ${coverage.quantizedByOrt.length} layers srq left float (it quantizes their float weights between Q/DQ pairs): ${coverage.quantizedByOrt.join(', ')}`;
    const gate = mode === 'int8-static' ? checkCoverage(coverage, minCoverage) : { passed: true };
    if (!gate.passed) {
      console.error(`srq: ${gate.message}; nothing written (keep fewer layers float, or lower --min-coverage)`);
      return EXIT_FAILED;
    }
    if (gate.message) summary += `\n${gate.message}`;
  }
  endProgress();
  writeOutput(values.output, bytes, [input]);
  if (values.report && report) writeOutput(values.report, JSON.stringify(report, null, 2) + '\n', [input]);
  const inBytes = encodeModel(model).length;
  console.log(`${summary}\nwrote ${values.output}: ${(bytes.length / 1e6).toFixed(2)} MB (${((bytes.length / inBytes) * 100).toFixed(0)}% of FP32) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

/** `candidate` scored against the FP32 model on photos the search never saw. */
async function confirmOnHeldOut(
  reference: ResolvedModel,
  candidate: ModelProto,
  images: NamedImage[],
  opts: { runtime: 'node' | 'web'; threads: number | undefined; createRunner: (bytes: Uint8Array) => Promise<Runner>; onProgress: (m: string) => void },
): Promise<CandidateResult> {
  const { report } = await validateModels(
    { path: 'fp32', model: reference.model, bytes: 0 },
    [{ path: 'int8', model: candidate, bytes: 0 }],
    {
      images,
      createRunner: opts.createRunner,
      runtime: opts.runtime,
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      description: reference.description,
      onProgress: opts.onProgress,
    },
  );
  return report.candidates[0]!;
}
