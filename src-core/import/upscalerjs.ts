// What srq knows about UpscalerJS models beyond their model.json: the pixel range each works in, and how
// the default models are named. Source: packages/shared/src/esrgan/esrgan.ts in each @upscalerjs package
// (getESRGANModelDefinition): architecture 'rdn' -> inputRange/outputRange [0, 255]; otherwise ('rrdn',
// which registers MultiplyBeta and PixelShuffle<N>x) -> [0, 1].
import type { KerasTopology } from './keras-topology.ts';

export type PixelRange = 1 | 255;

/** The ESRGAN packages by name; their definitions fix the pixel range per architecture. */
export const upscalerjsPackages: Readonly<Record<string, { architecture: 'rdn' | 'rrdn'; pixelRange: PixelRange }>> = {
  '@upscalerjs/default-model': { architecture: 'rdn', pixelRange: 255 },
  '@upscalerjs/esrgan-slim': { architecture: 'rdn', pixelRange: 255 },
  '@upscalerjs/esrgan-medium': { architecture: 'rdn', pixelRange: 255 },
  '@upscalerjs/esrgan-thick': { architecture: 'rrdn', pixelRange: 1 },
};

/**
 * The pixel range of a model not identified by its package: UpscalerJS's rule, recognising 'rrdn' by the
 * custom layers only that architecture registers. A guess for models from elsewhere; pass pixelRange then.
 */
export function inferPixelRange(topology: KerasTopology): PixelRange {
  const rrdn = topology.layers.some((l) => l.className === 'MultiplyBeta' || /^PixelShuffle\d+x$/.test(l.className));
  return rrdn ? 1 : 255;
}

/** "esrgan-slim-x2" for @upscalerjs/esrgan-slim's models/x2/model.json; "default-model-x2" for default-model. */
export function upscalerjsModelName(packageName: string, scale: number): string {
  return `${packageName.replace(/^@upscalerjs\//, '')}-x${scale}`;
}
