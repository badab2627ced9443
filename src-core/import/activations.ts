// Keras/TF.js activation names -> ONNX nodes, with the constants tfjs-layers uses (not Keras-Python's,
// where they differ: hard_sigmoid is 0.2x+0.5 in tfjs).
import { attr, makeNode } from '../onnx/build.ts';
import type { NodeProto } from '../onnx/types.ts';

/** Names for what an activation needs besides its nodes: intermediate tensors and scalar constants. */
export interface ActivationScope {
  tmp(suffix: string): string;
  scalar(suffix: string, value: number): string;
}

/** Emits nodes computing `activation(input)` into `output`. */
type ActivationEmitter = (input: string, output: string, scope: ActivationScope) => NodeProto[];

// SELU constants as tfjs-core's selu_util.ts has them.
const SELU_SCALE = 1.0507009873554805;
const SELU_ALPHA = 1.7580993408473768 / SELU_SCALE;

const emitters: Record<string, ActivationEmitter> = {
  linear: (i, o) => [makeNode('Identity', [i], [o])],
  relu: (i, o) => [makeNode('Relu', [i], [o])],
  relu6: (i, o, s) => [makeNode('Clip', [i, s.scalar('zero', 0), s.scalar('six', 6)], [o])],
  elu: (i, o) => [makeNode('Elu', [i], [o], { alpha: attr.float(1) })],
  selu: (i, o) => [makeNode('Selu', [i], [o], { alpha: attr.float(SELU_ALPHA), gamma: attr.float(SELU_SCALE) })],
  sigmoid: (i, o) => [makeNode('Sigmoid', [i], [o])],
  hard_sigmoid: (i, o) => [makeNode('HardSigmoid', [i], [o], { alpha: attr.float(0.2), beta: attr.float(0.5) })],
  tanh: (i, o) => [makeNode('Tanh', [i], [o])],
  softplus: (i, o) => [makeNode('Softplus', [i], [o])],
  softsign: (i, o) => [makeNode('Softsign', [i], [o])],
  swish: (i, o, s) => [makeNode('Sigmoid', [i], [s.tmp('sigmoid')]), makeNode('Mul', [i, s.tmp('sigmoid')], [o])],
  // Mish is an ONNX op only from opset 18; srq writes opset 17.
  mish: (i, o, s) => [
    makeNode('Softplus', [i], [s.tmp('softplus')]),
    makeNode('Tanh', [s.tmp('softplus')], [s.tmp('tanh')]),
    makeNode('Mul', [i, s.tmp('tanh')], [o]),
  ],
};

/** tfjs writes some names in camelCase (its class names), Keras in snake_case. */
const aliases: Record<string, string> = { hardSigmoid: 'hard_sigmoid' };

export const supportedActivations: readonly string[] = Object.keys(emitters);

export function normalizeActivation(name: unknown): string | undefined {
  if (name === undefined || name === null) return 'linear';
  if (typeof name !== 'string') return undefined;
  const key = aliases[name] ?? name;
  return key in emitters ? key : undefined;
}

export function emitActivation(name: string, input: string, output: string, scope: ActivationScope): NodeProto[] {
  const emit = emitters[name];
  if (!emit) throw new Error(`internal: activation ${name} was not normalised`);
  return emit(input, output, scope);
}
