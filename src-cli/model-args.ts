// The flags every model-taking command shares (--scale, --input-range), and reading a model file into its
// resolved description. Overrides are checked against the graph, never trusted blindly.
import { resolveModel, type ModelOverrides, type ResolvedModel } from '../src-core/model/description.ts';
import { readModelFile } from '../src-core/onnx/model-file.ts';
import type { ModelProto } from '../src-core/onnx/types.ts';
import { createRunner } from '../src-core/runtime/create-runner.node.ts';
import { intFlag, oneOf } from './args.ts';

export const MODEL_FLAGS = {
  scale: { type: 'string' },
  'input-range': { type: 'string' },
} as const;

export const MODEL_FLAGS_HELP = `  --scale N                 the model's upscaling factor: optional, srq measures it; a wrong one is an error
  --input-range 1|255       the pixel range the model takes: optional, srq measures it`;

export function modelOverrides(values: { scale?: string; 'input-range'?: string }): ModelOverrides {
  const range = oneOf('input-range', values['input-range'], ['1', '255'] as const, '1');
  return {
    ...(values.scale !== undefined ? { scale: intFlag('scale', values.scale, 1) } : {}),
    ...(values['input-range'] !== undefined ? { inputRange: Number(range) as 1 | 255 } : {}),
  };
}

/**
 * Reads (unless the caller already has it) and resolves a model. Probe runs use onnxruntime-node: the fastest here,
 * whatever runtime serves the model later.
 */
export async function resolveModelFile(path: string, overrides: ModelOverrides = {}, model?: ModelProto): Promise<ResolvedModel> {
  return resolveModel(model ?? readModelFile(path), { name: path, overrides, createRunner: (bytes) => createRunner('node', bytes, { threads: 1 }) });
}
