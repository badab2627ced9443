// The registry: one converter per ncnn layer type (as ORT's quantizer registry maps op type to class).
// Input is handled by the converter itself (it becomes the graph input).
import type { LayerConverter } from '../context.ts';
import { activationLayers } from './activation.ts';
import { convLayers } from './conv.ts';
import { elementwiseLayers } from './elementwise.ts';
import { structureLayers } from './structure.ts';

const registry = new Map<string, LayerConverter>(
  Object.entries({ ...convLayers, ...activationLayers, ...elementwiseLayers, ...structureLayers }),
);

export function converterFor(type: string): LayerConverter | undefined {
  return registry.get(type);
}

/** Every ncnn layer type srq import converts, Input included, sorted. */
export const supportedNcnnLayers: readonly string[] = ['Input', ...registry.keys()].sort();
