// Validation of candidate models (INT8, FP16...) against a reference model (FP32) on ground-truth photos, the way
// SR papers measure (BasicSR convention, see evaluate.ts), with every model run through the same tiled engine and
// model preparation the edge serves. Image by image, every model in turn, so memory holds one image's outputs
// and load on a shared machine hits every model alike. Runtime-agnostic (the caller supplies runners).
import { resizeBicubic } from '../image/resize.ts';
import { cropImage, type RasterImage } from '../image/raster.ts';
import { prepareInferenceModel, type InferenceModel } from '../inference-model.ts';
import type { ModelDescription } from '../model/description.ts';
import { summarizeModel } from '../onnx/inspect.ts';
import type { ModelProto } from '../onnx/types.ts';
import { stepProgress } from '../progress.ts';
import type { Runner } from '../runtime/runner.ts';
import { tileSizeFor, upscaleImage } from '../tiling/upscale.ts';
import { SRQ_VERSION } from '../version.ts';
import { cropsFor, type ImageCrops } from './crops.ts';
import { mean, prepareEvalImages, scoreOutputs, type EvalImage, type ImageScores } from './evaluate.ts';
import { VALIDATION_SCHEMA, type CandidateResult, type Drops, type ImageResult, type ModelResult, type Scores, type ValidationReport } from './schema.ts';

export class ValidationError extends Error {
  override name = 'ValidationError';
}

/** How the low-resolution inputs are made (stated in every report). */
export const LOW_RES_METHOD = 'MATLAB imresize bicubic (Keys a = -0.5, antialiased), BasicSR convention, after cropping the ground truth to a multiple of the scale';

export interface ModelUnderTest {
  /** Shown in reports (usually the file path). */
  path: string;
  model: ModelProto;
  /** File size in bytes. */
  bytes: number;
}

export interface ValidateOptions {
  /** Ground-truth images. */
  images: readonly { name: string; image: RasterImage }[];
  createRunner: (model: Uint8Array) => Promise<Runner>;
  runtime: 'node' | 'web';
  threads?: number;
  /** Tile size in input pixels (default 128, as the edge). */
  tileSize?: number;
  /** The reference model's description (resolveModel): the scale, border and overlap every model is tiled with. */
  description: ModelDescription;
  /** Side of the crops kept for the HTML report, in ground-truth pixels; 0 (default) keeps none. */
  cropSize?: number;
  onProgress?: (message: string) => void;
}

export interface Validation {
  report: ValidationReport;
  /** One per image when cropSize > 0. */
  crops: ImageCrops[];
}

export async function validateModels(reference: ModelUnderTest, candidates: readonly ModelUnderTest[], opts: ValidateOptions): Promise<Validation> {
  if (candidates.length === 0) throw new ValidationError('validation needs at least one candidate model besides the reference');
  const all = [reference, ...candidates];
  // Every variant is tiled as its reference: it sees as far as its original, and all are compared alike.
  const prepared = all.map((m) => prepareInferenceModel({ model: m.model, description: opts.description }));
  const scale = opts.description.scale;
  const images = prepareEvalImages(opts.images, scale);
  checkImageSizes(images, scale);
  // Every model is tiled alike, with the tile size the description needs (the one asked for, or the default).
  const d = opts.description;
  const tileSize = d.wholeImage ? 0 : tileSizeFor(d, opts.tileSize);

  const runners: Runner[] = [];
  const seconds = all.map(() => [] as number[]);
  const scores = all.map(() => [] as ImageScores[]);
  const bicubic: ImageScores[] = [];
  const crops: ImageCrops[] = [];
  try {
    for (const p of prepared) runners.push(await opts.createRunner(p.bytes));
    // One untimed tile per model first: ORT allocates and tunes on the first run of a shape.
    for (let m = 0; m < all.length; m++) await upscaleOnce(runners[m]!, images[0]!.lr, prepared[m]!, tileSize, true);
    const imageDone = stepProgress('validating: image', images.length, opts.onProgress);
    for (const [i, img] of images.entries()) {
      bicubic.push(...scoreOutputs([img], [resizeBicubic(img.lr, img.hr.width, img.hr.height)], scale));
      const outputs: RasterImage[] = [];
      for (let m = 0; m < all.length; m++) {
        const started = performance.now();
        const out = await upscaleOnce(runners[m]!, img.lr, prepared[m]!, tileSize, false);
        seconds[m]!.push((performance.now() - started) / 1000);
        outputs.push(out);
        scores[m]!.push(...scoreOutputs([img], [out], scale, m === 0 ? undefined : [outputs[0]!]));
      }
      imageDone(i + 1, img.name);
      if (opts.cropSize) crops.push(cropsFor(img.name, img.hr, outputs[0]!, outputs.slice(1), opts.cropSize));
    }
  } finally {
    for (const r of runners) await r.release();
  }

  const outputMegapixels = images.reduce((n, { hr }) => n + (hr.width * hr.height) / 1e6, 0);
  const modelResult = (m: number): ModelResult => ({
    path: all[m]!.path,
    variant: summarizeModel(all[m]!.model).precision,
    bytes: all[m]!.bytes,
    latency: { seconds: sum(seconds[m]!), msPerMegapixel: (sum(seconds[m]!) * 1000) / outputMegapixels },
    mean: meanScores(scores[m]!),
    images: scores[m]!.map((s, i) => ({ image: s.name, ...scoresOf(s), seconds: seconds[m]![i]! })),
  });
  const referenceResult = modelResult(0);
  const candidateResults = candidates.map((_, c): CandidateResult => {
    const result = modelResult(c + 1);
    const images: ImageResult[] = result.images.map((img, i) => ({ ...img, drop: drops(referenceResult.images[i]!, img) }));
    return { ...result, images, drop: drops(referenceResult.mean, result.mean) };
  });
  const report: ValidationReport = {
    schema: VALIDATION_SCHEMA,
    srqVersion: SRQ_VERSION,
    date: new Date().toISOString(),
    setup: { scale, lowRes: LOW_RES_METHOD, cropBorder: scale, runtime: opts.runtime, threads: opts.threads ?? null, tileSize },
    images: images.map(({ name, hr }) => ({ name, width: hr.width, height: hr.height })),
    bicubic: { mean: meanScores(bicubic), images: bicubic.map((s) => ({ image: s.name, ...scoresOf(s) })) },
    reference: referenceResult,
    candidates: candidateResults,
  };
  return { report, crops };
}

function checkImageSizes(images: readonly EvalImage[], scale: number): void {
  // SSIM's 11×11 window must fit inside the image after `scale` px are cropped from every border.
  const min = 11 + 2 * scale;
  for (const { name, hr } of images) {
    if (hr.width < min || hr.height < min) {
      throw new ValidationError(`image ${name} is ${hr.width}×${hr.height}; at ×${scale} validation needs at least ${min}×${min} px (use larger photos)`);
    }
  }
}

function upscaleOnce(runner: Runner, lr: RasterImage, p: InferenceModel, tileSize: number, warmUp: boolean): Promise<RasterImage> {
  // The warm-up needs one window of the real tile shape, not the whole image.
  const input = warmUp && tileSize > 0 ? cropImage(lr, 0, 0, Math.min(lr.width, tileSize), Math.min(lr.height, tileSize)) : lr;
  return upscaleImage(runner, input, { scale: p.scale, border: p.border, overlap: p.overlap, wholeImage: p.wholeImage === true, tileSize });
}

function scoresOf(s: ImageScores): Scores {
  return { psnrY: s.psnrY, psnrRgb: s.psnrRgb, ssimY: s.ssimY, ...(s.fidelity !== undefined ? { fidelity: s.fidelity } : {}) };
}

function meanScores(scores: readonly ImageScores[]): Scores {
  const m: Scores = {
    psnrY: mean(scores.map((s) => s.psnrY)),
    psnrRgb: mean(scores.map((s) => s.psnrRgb)),
    ssimY: mean(scores.map((s) => s.ssimY)),
  };
  if (scores.every((s) => s.fidelity !== undefined)) m.fidelity = mean(scores.map((s) => s.fidelity!));
  return m;
}

/** Reference minus candidate, per metric (a positive drop is a loss). */
export function drops(reference: Scores, candidate: Scores): Drops {
  return { psnrY: reference.psnrY - candidate.psnrY, psnrRgb: reference.psnrRgb - candidate.psnrRgb, ssimY: reference.ssimY - candidate.ssimY };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
