// Refuse models the quantizer cannot or should not touch, with one clear line each.
import { summarizeModel } from '../onnx/inspect.ts';
import { cloneModel, opsetVersion, setMetadata } from '../onnx/model.ts';
import { describeUpgrade, upgradeOpset, type OpsetUpgrade } from '../onnx/opset-upgrade.ts';
import { DataType } from '../onnx/tensor.ts';
import type { ModelProto } from '../onnx/types.ts';
import { QuantizeError } from './rewrite.ts';

/** Per-channel DequantizeLinear (the `axis` attribute) needs opset 13. */
export const MIN_QDQ_OPSET = 13;

export interface OpsetReady { model: ModelProto; opsetUpgrade?: OpsetUpgrade }

export function checkFloatModel(model: ModelProto, name: string): void {
  const summary = summarizeModel(model);
  if (summary.precision !== 'fp32') {
    throw new QuantizeError(`${name} is already ${summary.precision}; quantize the original FP32 model instead`);
  }
  const floatWeights = (model.graph?.initializer ?? []).some((t) => t.dataType === DataType.FLOAT && (t.rawData?.length ?? t.floatData?.length ?? 0) > 16);
  if (!floatWeights) throw new QuantizeError(`${name} has no float32 weights to quantize`);
}

/**
 * The model at opset 13 or newer: as it is, or an upgraded copy (opset 7–12, exact rewrites: see
 * onnx/opset-upgrade.ts) with what was upgraded. Older or unconvertible models are refused with one line.
 */
export function atQdqOpset(model: ModelProto, name: string): OpsetReady {
  const opset = opsetVersion(model);
  if (opset !== undefined && opset >= MIN_QDQ_OPSET) return { model };
  const upgraded = cloneModel(model);
  const opsetUpgrade = upgradeOpset(upgraded, name);
  // Provenance: the quantized model says which opset it was exported with and what was rewritten.
  setMetadata(upgraded, 'srq.opset_upgrade', describeUpgrade(opsetUpgrade));
  return { model: upgraded, opsetUpgrade };
}
