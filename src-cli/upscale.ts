// srq upscale <model> <in> -o <out>: tiled super-resolution of one image, the same engine the edge serves.
import { extname } from 'node:path';
import { encodeJpeg, encodePng } from '../src-core/image/index.ts';
import { loadJpegWasm } from '../src-core/image/jpeg-wasm.node.ts';
import { readImageFile } from '../src-core/image/image-files.node.ts';
import { prepareInferenceModel } from '../src-core/inference-model.ts';
import { createRunner } from '../src-core/runtime/create-runner.node.ts';
import { DEFAULT_TILE_SIZE, tileSizeFor, upscaleImage } from '../src-core/tiling/upscale.ts';
import { intFlag, oneOf, parse } from './args.ts';
import { UsageError } from './errors.ts';
import { checkOutputPath, endProgress, progressReporter, writeOutput } from './files.ts';
import { MODEL_FLAGS, MODEL_FLAGS_HELP, modelOverrides, resolveModelFile } from './model-args.ts';

const help = `usage: srq upscale <model.onnx> <image> -o <out.png|out.jpg> [options]

  --tile N          tile size in input pixels (default ${DEFAULT_TILE_SIZE}; raised where the model needs more context)
  --overlap N       context pixels around each tile (default: the model's receptive-field radius, which makes
                    tiled output equal whole-image output)
  --runtime node|web   onnxruntime-node (native, default) or onnxruntime-web (wasm, as on the edge)
  --threads N       inference threads
${MODEL_FLAGS_HELP}
  --quality N       JPEG quality 1-100 (default 90)
  --max-pixels N    refuse larger input images (default 40000000)`;

export async function upscaleCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('upscale', argv, {
    output: { type: 'string', short: 'o' },
    tile: { type: 'string' },
    overlap: { type: 'string' },
    runtime: { type: 'string' },
    threads: { type: 'string' },
    ...MODEL_FLAGS,
    quality: { type: 'string' },
    'max-pixels': { type: 'string' },
  });
  if (values.help) return console.log(help), 0;
  if (positionals.length !== 2) throw new UsageError('upscale needs a model and an image (srq upscale <model.onnx> <image> -o <out.png>)');
  if (!values.output) throw new UsageError('upscale needs -o <out.png|out.jpg>');
  const [modelPath, imagePath] = positionals as [string, string];
  checkOutputPath(values.output, [modelPath, imagePath]);
  const format = ({ '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg' } as const)[extname(values.output).toLowerCase() as '.png'];
  if (!format) throw new UsageError(`-o ${values.output}: the output must end in .png, .jpg or .jpeg`);
  const quality = intFlag('quality', values.quality, 90);
  if (quality > 100) throw new UsageError(`--quality must be 1-100, got ${quality}`);
  const runtime = oneOf('runtime', values.runtime, ['node', 'web'] as const, 'node');

  const image = readImageFile(imagePath, values['max-pixels'] !== undefined ? intFlag('max-pixels', values['max-pixels'], 0) : undefined);
  const prepared = prepareInferenceModel(await resolveModelFile(modelPath, modelOverrides(values)));
  const tileSize = values.tile !== undefined ? intFlag('tile', values.tile, DEFAULT_TILE_SIZE, 8) : undefined;
  const overlap = intFlag('overlap', values.overlap, prepared.overlap, 0);
  const runner = await createRunner(runtime, prepared.bytes, values.threads !== undefined ? { threads: intFlag('threads', values.threads, 1) } : {});
  const progress = progressReporter();
  const started = performance.now();
  let tiles = 0;
  try {
    const output = await upscaleImage(runner, image, {
      scale: prepared.scale,
      border: prepared.border,
      wholeImage: prepared.wholeImage === true,
      tileSize,
      overlap,
      onProgress: (done, total) => {
        tiles = total;
        if (total > 1) progress(`tile ${done}/${total}`);
      },
    });
    endProgress();
    const bytes = format === 'png' ? encodePng(output) : await encodeJpeg(output, loadJpegWasm, quality);
    writeOutput(values.output, bytes, [modelPath, imagePath]);
    const seconds = (performance.now() - started) / 1000;
    console.log(`${image.width}×${image.height} → ${output.width}×${output.height} (×${prepared.scale}) in ${tiles} tile${tiles === 1 ? '' : 's'} of ${prepared.wholeImage ? 'the whole image' : `${tileSizeFor({ ...prepared, overlap }, tileSize)}²`} + ${overlap} px overlap on ${runtime}, ${seconds.toFixed(2)} s; wrote ${values.output}`);
  } finally {
    await runner.release();
  }
  return 0;
}
