// Quality of an SR model on real photos, the way SR papers measure it (BasicSR convention): the photo is the
// ground truth; its low-resolution input is made by MATLAB-style bicubic ×s downscaling with antialiasing
// (after cropping to a multiple of s); the model upscales it through the same tiled engine the edge uses; PSNR
// (Y and RGB) and SSIM (Y) are taken on the uint8 output with `s` pixels cropped from every border.
// Fidelity compares a candidate's output with a reference model's output: RGB PSNR over the whole image.
import type { RasterImage } from '../image/raster.ts';
import { splitAlpha } from '../image/raster.ts';
import { makeLowRes, resizeBicubic } from '../image/resize.ts';
import { psnr, ssim } from '../metrics/index.ts';
import type { Runner } from '../runtime/runner.ts';
import { upscaleImage } from '../tiling/upscale.ts';

export interface EvalImage { name: string; hr: RasterImage; lr: RasterImage }

export interface ImageScores {
  name: string;
  psnrY: number;
  psnrRgb: number;
  ssimY: number;
  /** PSNR of this output against the reference model's output (dB, RGB, whole image); absent for the reference. */
  fidelity?: number;
}

export interface UpscaleSettings { scale: number; border?: number; tileSize: number; overlap: number }

/** Ground truth (RGB, cropped to a multiple of scale) and its bicubic low-resolution input. */
export function prepareEvalImages(images: readonly { name: string; image: RasterImage }[], scale: number): EvalImage[] {
  return images.map(({ name, image }) => ({ name, ...makeLowRes(splitAlpha(image).rgb, scale) }));
}

export async function upscaleAll(runner: Runner, images: readonly EvalImage[], settings: UpscaleSettings): Promise<{ outputs: RasterImage[]; seconds: number }> {
  const outputs: RasterImage[] = [];
  const started = performance.now();
  for (const { lr } of images) outputs.push(await upscaleImage(runner, lr, settings));
  return { outputs, seconds: (performance.now() - started) / 1000 };
}

/** Bicubic upscaling of the low-resolution inputs: the baseline an SR model must beat. */
export function bicubicOutputs(images: readonly EvalImage[], scale: number): RasterImage[] {
  return images.map(({ lr }) => resizeBicubic(lr, lr.width * scale, lr.height * scale));
}

export function scoreOutputs(
  images: readonly EvalImage[],
  outputs: readonly RasterImage[],
  scale: number,
  referenceOutputs?: readonly RasterImage[],
): ImageScores[] {
  return images.map(({ name, hr }, i) => {
    const out = outputs[i]!;
    const scores: ImageScores = {
      name,
      psnrY: psnr(hr, out, { crop: scale, channel: 'y' }),
      psnrRgb: psnr(hr, out, { crop: scale, channel: 'rgb' }),
      ssimY: ssim(hr, out, { crop: scale }),
    };
    if (referenceOutputs) scores.fidelity = psnr(referenceOutputs[i]!, out, { channel: 'rgb' });
    return scores;
  });
}

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
