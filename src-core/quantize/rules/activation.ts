// Relu and Clip fold into the producer's quantized output when that output feeds only them: an asymmetric u8
// range that starts at 0 (or the Clip bounds) clamps exactly as they do, so the node disappears and ORT can fuse
// Conv+Relu into one QLinearConv. Otherwise they pass values through with shared parameters.
import type { OpRule, RuleContext } from '../plan.ts';
import type { NodeProto } from '../../onnx/types.ts';
import type { Graph } from '../../onnx/graph.ts';
import { tensorToFloat32 } from '../../onnx/tensor.ts';

function canFold(node: NodeProto, ctx: RuleContext): boolean {
  const x = node.input?.[0];
  if (!x) return false;
  const producer = ctx.graph.producer(x);
  return (
    !!producer &&
    ctx.plan.quantizedNodes.has(producer) &&
    ctx.plan.activations.has(x) &&
    ctx.graph.consumers(x).length === 1 &&
    !ctx.graph.isGraphOutput(x)
  );
}

/** Clip's constant [min, max] when both are given and finite. */
export function clipBounds(node: NodeProto, { graph }: { graph: Graph }): { min: number; max: number } | undefined {
  if (node.opType !== 'Clip') return undefined;
  const [, lo, hi] = node.input ?? [];
  const read = (name: string | undefined) => {
    const t = name ? graph.initializer(name) : undefined;
    return t ? tensorToFloat32(t)[0] : undefined;
  };
  const min = read(lo);
  const max = read(hi);
  return min !== undefined && max !== undefined && Number.isFinite(min) && Number.isFinite(max) ? { min, max } : undefined;
}

export const clampRule: OpRule = {
  opTypes: ['Relu', 'Clip'],
  apply(node, ctx) {
    const x = node.input?.[0];
    const out = node.output?.[0];
    if (!ctx.isActivation(x) || !out || !ctx.isActivation(out)) return;
    // Clip's bounds must be constants for folding to be exact.
    const bounds = (node.input ?? []).slice(1).filter((b) => b);
    if (bounds.some((b) => !ctx.graph.initializer(b))) return;
    if (canFold(node, ctx)) {
      ctx.plan.activations.delete(x);
      ctx.activation(out);
      ctx.fold(node);
      const bounds = clipBounds(node, ctx);
      // The Q clamps where Clip did. The range is the calibrated one within the bounds (a Clip(0, 3.4e38) or a
      // Clip(0, 6) on small values must not set the scale); where the data reach a bound, the bound itself, so
      // an SR output clipped to [0,1] gets scale 1/255, the grid the final uint8 rounding uses.
      if (bounds) ctx.plan.clipBounds.set(out, bounds);
    } else {
      ctx.share(out, x);
    }
    ctx.done(node);
  },
};
