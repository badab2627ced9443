// Held-out photo crops for quantizer tests that measure fidelity to FP32: two 64² crops of each of srq's evaluation
// photos (never calibrated on), the float outputs of a model on them, and their mean RGB PSNR against a reference.
import { readImages } from '../../src-core/image/image-files.node.ts';
import { cropImage } from '../../src-core/image/raster.ts';
import { encodeModel } from '../../src-core/onnx/model.ts';
import type { ModelProto } from '../../src-core/onnx/types.ts';
import { builtInPhotos } from '../../src-core/package-root.node.ts';
import { rasterToTensor } from '../../src-core/quantize/calibration-tiles.ts';
import { createRunner } from '../../src-core/runtime/create-runner.node.ts';

export const nodeRunnerFactory = (bytes: Uint8Array, hints = {}) => createRunner('node', bytes, hints);

export const heldOutCrops = readImages(builtInPhotos('evaluation')).flatMap(({ image }) =>
  [0.3, 0.7].map((f) => rasterToTensor(cropImage(image, Math.floor((image.width - 64) * f), Math.floor((image.height - 64) * f), 64, 64))));

/** The model's outputs on every held-out crop (ORT-node). */
export async function outputsOnCrops(model: ModelProto): Promise<Float32Array[]> {
  const runner = await nodeRunnerFactory(encodeModel(model));
  try {
    const out: Float32Array[] = [];
    for (const c of heldOutCrops) out.push((await runner.run(c.data, c.dims)).data);
    return out;
  } finally {
    await runner.release();
  }
}

/** Mean over crops of the RGB PSNR of `a` against `b`, both clamped to [0, 1]. */
export function cropFidelity(a: Float32Array[], b: Float32Array[]): number {
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  const psnrs = a.map((x, i) => {
    let se = 0;
    for (let j = 0; j < x.length; j++) se += (clamp(x[j]!) - clamp(b[i]![j]!)) ** 2;
    return 10 * Math.log10(x.length / se);
  });
  return psnrs.reduce((s, p) => s + p, 0) / psnrs.length;
}
