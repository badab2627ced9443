// Refuse models the quantizer cannot or should not touch, with one clear line each.
import { summarizeModel } from '../onnx/inspect.ts';
import { opsetVersion } from '../onnx/model.ts';
import { DataType } from '../onnx/tensor.ts';
import type { ModelProto } from '../onnx/types.ts';
import { QuantizeError } from './rewrite.ts';

/** Per-channel DequantizeLinear (the `axis` attribute) needs opset 13. */
export const MIN_QDQ_OPSET = 13;

export function checkFloatModel(model: ModelProto, name: string): void {
  const summary = summarizeModel(model);
  if (summary.precision !== 'fp32') {
    throw new QuantizeError(`${name} is already ${summary.precision}; quantize the original FP32 model instead`);
  }
  const floatWeights = (model.graph?.initializer ?? []).some((t) => t.dataType === DataType.FLOAT && (t.rawData?.length ?? t.floatData?.length ?? 0) > 16);
  if (!floatWeights) throw new QuantizeError(`${name} has no float32 weights to quantize`);
}

export function checkOpset(model: ModelProto, name: string, min = MIN_QDQ_OPSET): void {
  const opset = opsetVersion(model);
  if (opset === undefined || opset < min) {
    throw new QuantizeError(`${name} uses opset ${opset ?? 'none'}; srq quantizes opset ${min} or newer (convert it with onnx.version_converter first)`);
  }
}
