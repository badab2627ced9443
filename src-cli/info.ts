// srq info <model>: what the model is, for a person or (--json) for a script.
import { statSync } from 'node:fs';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import { summarizeModel, type TensorSummary } from '../src-core/onnx/inspect.ts';
import { parse } from './args.ts';
import { UsageError } from './errors.ts';

const help = `usage: srq info <model.onnx> [--json]

Prints the model's inputs and outputs, opset, operator histogram, parameter count, scale and precision.`;

function shapeText(t: TensorSummary): string {
  return `${t.name}: ${t.type}[${(t.shape ?? []).map((d) => d ?? '?').join(', ')}]`;
}

export async function infoCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('info', argv, { json: { type: 'boolean' } });
  if (values.help) return console.log(help), 0;
  if (positionals.length !== 1) throw new UsageError('info needs exactly one model file (srq info <model.onnx>)');
  const path = positionals[0]!;
  const summary = summarizeModel(readModelFile(path));
  const bytes = statSync(path).size;
  if (values.json) {
    console.log(JSON.stringify({ file: path, bytes, ...summary }, null, 2));
    return 0;
  }
  const ops = Object.entries(summary.ops).sort((a, b) => b[1] - a[1]).map(([op, n]) => `${op} ×${n}`).join(', ');
  console.log([
    `model      ${path} (${(bytes / 1e6).toFixed(2)} MB)`,
    `precision  ${summary.precision}`,
    `scale      ${summary.scale ? `×${summary.scale}` : 'unknown (no srq.scale metadata)'}`,
    `opset      ${summary.opset ?? '?'} (IR ${summary.irVersion})${summary.producer ? `, from ${summary.producer}` : ''}`,
    `inputs     ${summary.inputs.map(shapeText).join('; ')}`,
    `outputs    ${summary.outputs.map(shapeText).join('; ')}`,
    `parameters ${summary.parameters.toLocaleString('en-US')}`,
    `nodes      ${summary.nodeCount}: ${ops}`,
  ].join('\n'));
  return 0;
}
