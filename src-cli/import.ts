// srq import <model.json> -o <model.onnx>: Keras-layers TF.js model -> srq ONNX model.
import { encodeModel } from '../src-core/onnx/model.ts';
import { importTfjsModelFile } from '../src-core/import/tfjs-files.ts';
import { summarizeModel } from '../src-core/onnx/inspect.ts';
import { parse } from './args.ts';
import { UsageError } from './errors.ts';
import { checkOutputPath, writeOutput } from './files.ts';

const help = `usage: srq import <model.json> -o <model.onnx> [--pixel-range 1|255]

Converts a Keras-layers TF.js model (e.g. the UpscalerJS packages' models/x4/model.json) into an ONNX model
with srq's contract: input [1,3,h,w] RGB in [0,1], output [1,3,s·h,s·w] in [0,1], scale in metadata.
--pixel-range: the value range the TF.js model expects (UpscalerJS packages are detected automatically).`;

export async function importCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('import', argv, { output: { type: 'string', short: 'o' }, 'pixel-range': { type: 'string' } });
  if (values.help) return console.log(help), 0;
  if (positionals.length !== 1) throw new UsageError('import needs exactly one model.json (srq import <model.json> -o <model.onnx>)');
  if (!values.output) throw new UsageError('import needs -o <model.onnx>');
  checkOutputPath(values.output, [positionals[0]!]);
  const range = values['pixel-range'];
  if (range !== undefined && range !== '1' && range !== '255') throw new UsageError(`--pixel-range must be 1 or 255, got "${range}"`);
  const { model, scale, name } = await importTfjsModelFile(positionals[0]!, range ? { pixelRange: Number(range) as 1 | 255 } : {});
  const bytes = encodeModel(model);
  writeOutput(values.output, bytes, [positionals[0]!]);
  const s = summarizeModel(model);
  console.log(`imported ${name}: ×${scale}, ${s.parameters.toLocaleString('en-US')} parameters, ${s.nodeCount} nodes; wrote ${values.output} (${(bytes.length / 1e6).toFixed(2)} MB)`);
  return 0;
}
