// srq command-line entry: dispatch to one module per command.
import { reportError, EXIT_OK, EXIT_USAGE } from './errors.ts';
import { importCommand } from './import.ts';
import { infoCommand } from './info.ts';
import { upscaleCommand } from './upscale.ts';
import { quantizeCommand } from './quantize.ts';
import { validateCommand } from './validate.ts';
import { benchCommand } from './bench.ts';
import { runCommand } from './run.ts';
import { mergeCommand } from './merge.ts';
import { SRQ_VERSION } from '../src-core/version.ts';

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, { run: Command; summary: string }> = {
  upscale: { run: upscaleCommand, summary: 'upscale an image with a model, tile by tile' },
  import: { run: importCommand, summary: 'convert a Keras-layers TF.js model (model.json) to an srq ONNX model' },
  info: { run: infoCommand, summary: 'describe a model (inputs, ops, parameters, scale, precision)' },
  quantize: { run: quantizeCommand, summary: 'make a static INT8, dynamic INT8 or FP16 variant of an FP32 model' },
  validate: { run: validateCommand, summary: 'score models on ground-truth photos (PSNR, SSIM, fidelity) and gate on the drop' },
  run: { run: runCommand, summary: 'what the GitHub Action does: variants, validation, gate, manifest.json and reports for every model' },
  merge: { run: mergeCommand, summary: 'merge the folders that shards of a matrix published into one folder and manifest' },
  bench: { run: benchCommand, summary: 'latency and size of fp32/int8/fp16 variants on onnxruntime-node and -web' },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'usage: srq <command> [options]',
    '       srq help <command>   (the same as srq <command> --help)',
    '       srq --version',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

/** Help and the version go to stdout (exit 0); a usage mistake goes to stderr (exit 2). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(SRQ_VERSION);
    return EXIT_OK;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    console.log(usage());
    return EXIT_OK;
  }
  if (!name) {
    console.error(`srq: no command given\n\n${usage()}`);
    return EXIT_USAGE;
  }
  // `srq help quantize` is `srq quantize --help`.
  const [commandName, commandArgs] = name === 'help' ? [rest[0]!, ['--help']] : [name, rest];
  const command = Object.hasOwn(commands, commandName) ? commands[commandName] : undefined;
  if (!command) {
    console.error(`srq: unknown command "${commandName}"\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(commandArgs);
  } catch (e) {
    return reportError(e);
  }
}
