// srq import: a Keras-layers TF.js model (model.json) or an ncnn model (model.param + model.bin) -> ONNX.
import { encodeModel } from '../src-core/onnx/model.ts';
import { importTfjsModelFile } from '../src-core/import/tfjs-files.ts';
import { defaultBinPath, importNcnnFiles } from '../src-core/import/ncnn/files.node.ts';
import { summarizeModel } from '../src-core/onnx/inspect.ts';
import { parse } from './args.ts';
import { UsageError } from './errors.ts';
import { checkOutputPath, writeOutput } from './files.ts';
import { checkModelLoads } from '../src-core/runtime/load-check.node.ts';

const help = `usage: srq import <model.json> -o <model.onnx> [--pixel-range 1|255]
       srq import <model.param> -o <model.onnx> [--bin <model.bin>]

Converts a Keras-layers TF.js model (e.g. the UpscalerJS packages' models/x4/model.json) into an ONNX model
with srq's contract: input [1,3,h,w] RGB in [0,1], output [1,3,s·h,s·w] in [0,1], scale in metadata.
--pixel-range: the value range the TF.js model expects (UpscalerJS packages are detected automatically).

An ncnn model (a .param argument; its weights are the .bin with the same name beside it, or --bin) becomes a
float32 ONNX model (opset 17, input [1,3,h,w], output [1,3,s·h,s·w]) that computes what ncnn computes.`;

export async function importCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('import', argv, {
    output: { type: 'string', short: 'o' },
    'pixel-range': { type: 'string' },
    bin: { type: 'string' },
  });
  if (values.help) return console.log(help), 0;
  if (positionals.length !== 1) throw new UsageError('import needs exactly one model.json or model.param (srq import <model> -o <model.onnx>)');
  if (!values.output) throw new UsageError('import needs -o <model.onnx>');
  const input = positionals[0]!;
  if (input.toLowerCase().endsWith('.param')) return importNcnn(input, values.output, values);
  if (input.toLowerCase().endsWith('.bin')) {
    throw new UsageError(`${input} holds weights only; pass the model file beside it (srq import model.param for ncnn, model.json for TF.js)`);
  }
  if (values.bin !== undefined) throw new UsageError('--bin is for ncnn models (a .param file); a TF.js model.json lists its own weight files');
  checkOutputPath(values.output, [input]);
  const range = values['pixel-range'];
  if (range !== undefined && range !== '1' && range !== '255') throw new UsageError(`--pixel-range must be 1 or 255, got "${range}"`);
  const { model, scale, name } = await importTfjsModelFile(input, range ? { pixelRange: Number(range) as 1 | 255 } : {});
  const bytes = encodeModel(model);
  await loadsInOrt(bytes, values.output, input);
  writeOutput(values.output, bytes, [input]);
  const s = summarizeModel(model);
  console.log(`imported ${name}: ×${scale}, ${s.parameters.toLocaleString('en-US')} parameters, ${s.nodeCount} nodes; wrote ${values.output} (${(bytes.length / 1e6).toFixed(2)} MB)`);
  return 0;
}

async function importNcnn(paramPath: string, output: string, values: { bin?: string; 'pixel-range'?: string }): Promise<number> {
  if (values['pixel-range'] !== undefined) throw new UsageError('--pixel-range is for TF.js models; an ncnn model is imported as it computes');
  const binPath = values.bin ?? defaultBinPath(paramPath);
  checkOutputPath(output, [paramPath, binPath]);
  const started = Date.now();
  const r = await importNcnnFiles(paramPath, values.bin !== undefined ? { binPath } : {});
  const bytes = encodeModel(r.model);
  await loadsInOrt(bytes, output, paramPath);
  writeOutput(output, bytes, [paramPath, r.binPath]);
  const stored = Object.entries(r.storage).filter(([, n]) => n > 0).map(([k]) => k).join('+');
  console.log(
    `imported ${r.name} (ncnn, ${r.layers} layers, ${stored} weights): ×${r.scale}, ${r.parameters.toLocaleString('en-US')} parameters, ` +
      `${r.model.graph?.node?.length ?? 0} nodes; wrote ${output} (${(bytes.length / 1e6).toFixed(2)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return 0;
}

/** Nothing is written that onnxruntime would refuse: an imported model that does not load is srq's bug, said in one line. */
async function loadsInOrt(bytes: Uint8Array, output: string, input: string): Promise<void> {
  await checkModelLoads(bytes, { name: output, advice: `this is an srq import bug: please report it with ${input}` });
}
