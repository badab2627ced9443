// MatMul and Gemm: u8 activations, int8 weights (per-channel along the output features), int32 Gemm bias.
// ORT fuses them into QLinearMatMul / QGemm.
import { getIntAttr } from '../../onnx/build.ts';
import { tensorDims } from '../../onnx/tensor.ts';
import type { OpRule } from '../plan.ts';

export const matmulRule: OpRule = {
  opTypes: ['MatMul', 'Gemm'],
  apply(node, ctx) {
    const [a, b, c] = node.input ?? [];
    const out = node.output?.[0];
    if (!ctx.isActivation(a) || !out) return;
    if (node.opType === 'Gemm' && getIntAttr(node, 'transA', 0) !== 0) return;
    ctx.activation(a);
    if (ctx.isFloatInitializer(b)) {
      const rank = tensorDims(ctx.graph.initializer(b)!).length;
      // Output features: last axis of a MatMul weight; for Gemm axis 0 when transB, else 1.
      const axis = node.opType === 'Gemm' ? (getIntAttr(node, 'transB', 0) ? 0 : 1) : rank === 2 ? 1 : undefined;
      ctx.weight(b, axis);
      if (node.opType === 'Gemm' && ctx.isFloatInitializer(c) && tensorDims(ctx.graph.initializer(c)!).length === 1) ctx.bias(c, a, b, node);
    } else if (ctx.isActivation(b)) {
      ctx.activation(b);
    } else {
      return;
    }
    ctx.activation(out);
    ctx.done(node);
  },
};
