// Small SR-shaped models (seeded weights) for CLI tests of quantize's opset upgrade and load check.
import { attr, makeGraph, makeModel, makeNode, makeValueInfo } from '../../src-core/onnx/build.ts';
import { DataType, makeTensor } from '../../src-core/onnx/tensor.ts';
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../../src-core/onnx/types.ts';
import { seededRandom } from '../../src-core/quantize/calibration-tiles.ts';

function weights(seed: number) {
  const list: TensorProto[] = [];
  const rand = seededRandom(seed);
  const add = (name: string, dims: number[], scale: number, offset = 0) => {
    const n = dims.reduce((a, b) => a * b, 1);
    list.push(makeTensor(name, DataType.FLOAT, dims, Float32Array.from({ length: n }, () => offset + (rand() * 2 - 1) * scale)));
    return name;
  };
  const conv = (name: string, x: string, y: string, cin: number, cout: number, biasOffset = 0) =>
    makeNode('Conv', [x, add(`${name}_w`, [cout, cin, 3, 3], 0.3), add(`${name}_b`, [cout], 0.1, biasOffset)], [y], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }, name);
  return { list, add, conv };
}

function srModel(name: string, nodes: NodeProto[], initializers: TensorProto[], opset: number, extraInputs: ValueInfoProto[] = []): ModelProto {
  return makeModel(makeGraph({
    name,
    nodes,
    inputs: [makeValueInfo('input', DataType.FLOAT, [1, 3, 'h', 'w']), ...extraInputs],
    outputs: [makeValueInfo('output', DataType.FLOAT, [1, 3, null, null])],
    initializers,
  }), { opset });
}

/** Opset 9, as torch.onnx wrote ×2 nets then: conv → Upsample (scales input) → Clip with min/max attributes → conv. */
export function opset9Upsample(): ModelProto {
  const w = weights(21);
  w.list.push(makeTensor('scales', DataType.FLOAT, [4], Float32Array.from([1, 1, 2, 2])));
  return srModel('opset9_upsample', [
    w.conv('conv1', 'input', 'features', 3, 16),
    makeNode('Upsample', ['features', 'scales'], ['up'], { mode: attr.string('nearest') }, 'upsample'),
    makeNode('Clip', ['up'], ['clipped'], { min: attr.float(0), max: attr.float(6) }, 'relu6'),
    w.conv('conv2', 'clipped', 'output', 16, 3),
  ], w.list, 9);
}

/** Opset 6 (older than srq upgrades): conv → DepthToSpace ×2. IR 3 lists initializers among the inputs. */
export function opset6Shuffle(): ModelProto {
  const w = weights(22);
  const model = srModel('opset6', [w.conv('conv', 'input', 'lr', 3, 12), makeNode('DepthToSpace', ['lr'], ['output'], { blocksize: attr.int(2) }, 'shuffle')], w.list, 6);
  model.graph!.input!.push(...w.list.map((t) => makeValueInfo(t.name!, DataType.FLOAT, t.dims!.map(Number))));
  return model;
}

/**
 * Fine in float32, not in float16: features are divided by 1e-8 and multiplied back, and 1e-8 is below float16's
 * smallest subnormal (2^-24 ≈ 6e-8), so it becomes 0 and the output NaN/Infinity. (ORT's CPU runs float16 ops as
 * float32 between casts, so it is constants, not activations, that leave float16's range there. The Relu keeps
 * the Div away from the conv: optimizeGraph folds a constant Div right after a conv into it.)
 */
export function leavesFloat16Range(): ModelProto {
  const w = weights(23);
  const scalar = (name: string, v: number) => (w.list.push(makeTensor(name, DataType.FLOAT, [], Float32Array.from([v]))), name);
  return srModel('fp16_underflow', [
    w.conv('conv', 'input', 'lr', 3, 12, 0.2),
    makeNode('Relu', ['lr'], ['features'], {}, 'relu'),
    makeNode('Div', ['features', scalar('eps', 1e-8)], ['scaled'], {}, 'divide'),
    makeNode('Mul', ['scaled', scalar('eps_back', 1e-8)], ['back'], {}, 'multiply'),
    makeNode('DepthToSpace', ['back'], ['output'], { blocksize: attr.int(2) }, 'shuffle'),
  ], w.list, 17);
}
