// SR quality metrics, BasicSR convention. Pure JS: safe for Node, Deno, Workers, browsers.
export type { MetricChannel } from './compare.ts';
export { MetricInputError } from './errors.ts';
export type { PsnrOptions } from './psnr.ts';
export { psnr, mse } from './psnr.ts';
export type { SsimOptions } from './ssim.ts';
export { ssim, ssimPlanes } from './ssim.ts';
export { lumaY, rgbToY } from './ycbcr.ts';
