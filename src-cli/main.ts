// srq command-line entry: dispatch to one module per command.
import { reportError, EXIT_USAGE } from './errors.ts';
import { importCommand } from './import.ts';
import { infoCommand } from './info.ts';
import { upscaleCommand } from './upscale.ts';
import { quantizeCommand } from './quantize.ts';
import { validateCommand } from './validate.ts';
import { benchCommand } from './bench.ts';
import { runCommand } from './run.ts';

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, { run: Command; summary: string }> = {
  upscale: { run: upscaleCommand, summary: 'upscale an image with a model, tile by tile' },
  import: { run: importCommand, summary: 'convert a Keras-layers TF.js model (model.json) to an srq ONNX model' },
  info: { run: infoCommand, summary: 'describe a model (inputs, ops, parameters, scale, precision)' },
  quantize: { run: quantizeCommand, summary: 'make a static INT8, dynamic INT8 or FP16 variant of an FP32 model' },
  validate: { run: validateCommand, summary: 'score models on ground-truth photos (PSNR, SSIM, fidelity) and gate on the drop' },
  run: { run: runCommand, summary: 'what the GitHub Action does: variants, validation, gate, manifest.json and reports for every model' },
  bench: { run: benchCommand, summary: 'latency and size of fp32/int8/fp16 variants on onnxruntime-node and -web' },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'usage: srq <command> [options]   (srq <command> --help for details)',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : EXIT_USAGE;
  }
  const command = commands[name];
  if (!command) {
    console.error(`srq: unknown command "${name}"\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    return reportError(e);
  }
}
