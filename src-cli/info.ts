// srq info <model>: what the model is, for a person or (--json) for a script.
import { readFileSync, statSync } from 'node:fs';
import { coverageLine, percent } from '../src-core/quantize/coverage.ts';
import { int8Coverage } from '../src-core/quantize/coverage.node.ts';
import { optimizedKernelCounts } from '../src-core/runtime/optimized-graph.node.ts';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import { summarizeModel, type TensorSummary } from '../src-core/onnx/inspect.ts';
import { parse } from './args.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, modelOverrides, resolveModelFile } from './model-args.ts';
import { UsageError } from './errors.ts';

const help = `usage: srq info <model.onnx> [--json] [--optimized]

Prints the model's inputs and outputs, opset, operator histogram, parameter count and precision, and what srq
measures of it: scale and border (out = s·in − 2b), receptive field, pixel range, and any rewrite srq makes.
--optimized also lets onnxruntime-node optimise the model and reports what it really runs: how many convs
became int8 kernels and how many Q/DQ nodes remain around float ops; for an INT8 model, its int8 coverage (the
share of conv/matmul MACs, counted at a 64² input, that runs in int8 kernels) and each layer left float, and why.

${MODEL_FLAGS_HELP}`;

function shapeText(t: TensorSummary): string {
  return `${t.name}: ${t.type}[${(t.shape ?? []).map((d) => d ?? '?').join(', ')}]`;
}

export async function infoCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('info', argv, { json: { type: 'boolean' }, optimized: { type: 'boolean' }, ...MODEL_FLAGS });
  if (values.help) return console.log(help), 0;
  if (positionals.length !== 1) throw new UsageError('info needs exactly one model file (srq info <model.onnx>)');
  const path = positionals[0]!;
  const model = readModelFile(path);
  const summary = summarizeModel(model);
  const { description } = await resolveModelFile(path, modelOverrides(values), model);
  const bytes = statSync(path).size;
  const kernels = values.optimized ? await optimizedKernelCounts(readFileSync(path)) : undefined;
  const int8 = summary.precision.startsWith('int8') || summary.precision === 'mixed';
  const coverage = values.optimized && int8 ? await int8Coverage(readFileSync(path)) : undefined;
  if (values.json) {
    console.log(JSON.stringify({ file: path, bytes, ...summary, scale: description.scale, description, ...(kernels ? { optimized: kernels } : {}), ...(coverage ? { coverage } : {}) }, null, 2));
    return 0;
  }
  const ops = Object.entries(summary.ops).sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} ×${n}`).join(', ');
  console.log([
    `model      ${path} (${(bytes / 1e6).toFixed(2)} MB)`,
    `precision  ${summary.precision}`,
    `scale      ×${description.scale}, border ${description.border} px (out = ${description.scale}·in${description.border ? ` − ${2 * description.border}` : ''}; measured)`,
    `tiling     receptive field ${description.overlap} px (${description.found.overlap})${description.wholeImage ? '; tiles do not reproduce the whole image: runs whole images' : ''}`,
    `pixels     RGB in [0, ${description.sourceRange}] (${description.found.range})`,
    ...description.rewrites.map((r) => `rewrites   ${r}`),
    ...description.notes.map((n) => `note       ${n}`),
    `opset      ${summary.opset ?? '?'} (IR ${summary.irVersion})${summary.producer ? `, from ${summary.producer}` : ''}`,
    `inputs     ${summary.inputs.map(shapeText).join('; ')}`,
    `outputs    ${summary.outputs.map(shapeText).join('; ')}`,
    `parameters ${summary.parameters.toLocaleString('en-US')}`,
    `nodes      ${summary.nodeCount}: ${ops}`,
  ].join('\n'));
  if (kernels) {
    const optimizedOps = Object.entries(kernels.ops).sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} ×${n}`).join(', ');
    console.log([
      `optimized  (onnxruntime-node, CPU) ${optimizedOps}`,
      `int8 convs ${kernels.int8Convs} of ${kernels.int8Convs + kernels.floatConvs}; Q/DQ left: ${kernels.quantizeNodes} Q, ${kernels.dequantizeNodes} DQ`,
    ].join('\n'));
  }
  if (coverage) {
    console.log([
      `coverage   ${coverageLine(coverage)}`,
      ...coverage.floatLayers.map((l) => `float      ${l.name} (${l.op}, ${percent(l.macShare)} of MACs): ${l.why}`),
      ...(coverage.quantizedByOrt.length ? [`note       ORT runs in int8 ${coverage.quantizedByOrt.length} layers srq left float (it quantizes their float weights between Q/DQ pairs): ${coverage.quantizedByOrt.join(', ')}`] : []),
    ].join('\n'));
  }
  return 0;
}
