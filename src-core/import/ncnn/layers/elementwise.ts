// Eltwise (src/layer/eltwise.cpp: 0 = op PROD/SUM/MAX, 1 = coeffs for SUM) and BinaryOp
// (src/layer/binaryop.cpp: 0 = op, 1 = with_scalar, 2 = the scalar b).
import type { Blob, LayerContext, LayerConverter } from '../context.ts';
import { expectInputs } from '../context.ts';

/** Shape of a broadcast between two blobs: equal, or 1 on one side (per dimension and probe). */
function broadcast(ctx: LayerContext, a: Blob, b: Blob, name: string): Blob {
  const dim = (x: number, y: number, what: string) => {
    if (x === y || y === 1) return x;
    if (x === 1) return y;
    return ctx.fail(`cannot combine blobs of ${what} ${x} and ${y}`);
  };
  return {
    name,
    c: dim(a.c, b.c, 'channels'),
    h: a.h.map((v, i) => dim(v, b.h[i]!, 'height')),
    w: a.w.map((v, i) => dim(v, b.w[i]!, 'width')),
  };
}

const eltwise: LayerConverter = (ctx, inputs) => {
  if (inputs.length < 2) ctx.fail(`needs at least 2 input blobs, the .param gives ${inputs.length}`);
  const op = ctx.params.int(0, 0);
  const coeffs = ctx.params.array(1);
  let shape = inputs[0]!;
  for (const b of inputs.slice(1)) shape = broadcast(ctx, shape, b, ctx.top());
  const names = inputs.map((x) => x.name);
  const chain = (onnxOp: string, terms: string[]) => {
    // ncnn accumulates left to right: ((x0 op x1) op x2) ...
    let acc = terms[0]!;
    for (let i = 1; i < terms.length; i++) {
      const out = i === terms.length - 1 ? ctx.top() : ctx.temp(`${onnxOp.toLowerCase()}${i}`);
      ctx.node(onnxOp, [acc, terms[i]!], [out]);
      acc = out;
    }
  };
  if (op === 0) chain('Mul', names);
  else if (op === 1) {
    if (coeffs.length !== 0 && coeffs.length !== inputs.length) ctx.fail(`has ${coeffs.length} coeffs (1=) for ${inputs.length} inputs`);
    // out = sum(coeff_i * x_i); a coefficient of 1 multiplies exactly, so it is left out.
    const terms = names.map((n, i) => {
      const k = coeffs[i] ?? 1;
      if (k === 1) return n;
      const scaled = ctx.temp(`scaled${i}`);
      ctx.node('Mul', [n, ctx.scalar(k)], [scaled]);
      return scaled;
    });
    chain('Add', terms);
  } else if (op === 2) chain('Max', names);
  else ctx.fail(`op ${op} (0=) is unknown; ncnn has 0 prod, 1 sum, 2 max`);
  return [shape];
};

/** ncnn BinaryOp op types 0..9: [ONNX op, operands swapped]. */
const binaryOps: Record<number, [string, boolean]> = {
  0: ['Add', false], 1: ['Sub', false], 2: ['Mul', false], 3: ['Div', false], 4: ['Max', false],
  5: ['Min', false], 6: ['Pow', false], 7: ['Sub', true], 8: ['Div', true], 9: ['Pow', true],
};

const binaryOp: LayerConverter = (ctx, inputs) => {
  const op = ctx.params.int(0, 0);
  const withScalar = ctx.params.int(1, 0) !== 0;
  const entry = binaryOps[op];
  if (!entry) ctx.fail(`op ${op} (0=) is not supported; srq maps 0..9 (add, sub, mul, div, max, min, pow, rsub, rdiv, rpow)`);
  const [onnxOp, swapped] = entry;
  let a: string, b: string, shape: Blob;
  if (withScalar) {
    expectInputs(ctx, inputs, 1);
    a = inputs[0]!.name;
    b = ctx.scalar(ctx.params.float(2, 0));
    shape = { ...inputs[0]!, name: ctx.top() };
  } else {
    expectInputs(ctx, inputs, 2);
    a = inputs[0]!.name;
    b = inputs[1]!.name;
    shape = broadcast(ctx, inputs[0]!, inputs[1]!, ctx.top());
  }
  ctx.node(onnxOp, swapped ? [b, a] : [a, b], [ctx.top()]);
  return [shape];
};

export const elementwiseLayers: Record<string, LayerConverter> = {
  Eltwise: eltwise,
  BinaryOp: binaryOp,
};
