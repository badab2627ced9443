// Nearest upsampling by s followed by a k×k 'same' conv equals one conv on the low-resolution grid with s²·C_out
// outputs followed by DepthToSpace (the sub-pixel conv of ESPCN, derived exactly from the original weights).
// Same multiply-adds, but the s²-times larger upsampled tensor is never built and the conv gets s²·C_out output
// channels instead of a handful (SR nets end in a 3-channel conv, which int8 GEMM kernels handle poorly).
//
// HR pixel (s·i + a) reads HR rows s·i + a + d for d in [-p, p]; nearest-floor upsampling maps those to LR rows
// i + floor((a + d)/s). So phase a's LR kernel is the original kernel with taps summed by LR offset.
import { attr, getIntAttr, getIntsAttr, getStringAttr, makeNode } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { DataType, makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';
import { floatConstant } from './constants.ts';

/** Coordinate modes under which nearest upsampling by an integer factor maps HR row y to LR row floor(y/s). */
function isFloorNearest(resize: NodeProto): boolean {
  if (getStringAttr(resize, 'mode', 'nearest') !== 'nearest') return false;
  const coord = getStringAttr(resize, 'coordinate_transformation_mode', 'half_pixel');
  const nearest = getStringAttr(resize, 'nearest_mode', 'round_prefer_floor');
  // half_pixel with an integer factor never lands on a tie, so both rounding modes give floor(y/s).
  if (coord === 'half_pixel' || coord === 'pytorch_half_pixel') return nearest.startsWith('round_prefer');
  return coord === 'asymmetric' && nearest === 'floor';
}

/** The integer spatial factor of a Resize whose scales are [1, 1, s, s], else undefined. */
function integerScale(graph: Graph, resize: NodeProto): number | undefined {
  const scalesName = resize.input?.[2];
  // An initializer or a Constant node (PyTorch exports emit Constant nodes for the scales).
  const s = scalesName ? floatConstant(graph, scalesName)?.data : undefined;
  if (!s) return undefined;
  if (s.length !== 4 || s[0] !== 1 || s[1] !== 1 || s[2] !== s[3] || !Number.isInteger(s[2]) || s[2]! < 2) return undefined;
  return s[2];
}

/** A plain k×k 'same' conv (odd k, stride 1, dilation 1, one group) with float weights: its k and bias name. */
function sameConv(graph: Graph, conv: NodeProto): { k: number; weight: string; bias?: string } | undefined {
  if (conv.opType !== 'Conv') return undefined;
  const [, w, b] = conv.input ?? [];
  const weight = w ? graph.initializer(w) : undefined;
  if (!weight || weight.dataType !== DataType.FLOAT) return undefined;
  const dims = tensorDims(weight);
  const k = dims[2]!;
  if (dims.length !== 4 || dims[3] !== k || k % 2 === 0) return undefined;
  if (getIntsAttr(conv, 'strides', [1, 1]).some((v) => v !== 1)) return undefined;
  if (getIntsAttr(conv, 'dilations', [1, 1]).some((v) => v !== 1)) return undefined;
  if (getIntAttr(conv, 'group', 1) !== 1) return undefined;
  const p = (k - 1) / 2;
  const autoPad = getStringAttr(conv, 'auto_pad', 'NOTSET');
  const pads = getIntsAttr(conv, 'pads', [0, 0, 0, 0]);
  const same = autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' || (autoPad === 'NOTSET' && pads.every((v) => v === p));
  if (!same) return undefined;
  if (b && !graph.initializer(b)) return undefined;
  return { k, weight: w!, bias: b || undefined };
}

/** Sub-pixel weights [s²·Co, Ci, K, K] in DepthToSpace DCR channel order ((a·s + b)·Co + c). */
function subpixelWeights(w: Float32Array, co: number, ci: number, k: number, s: number) {
  const p = (k - 1) / 2;
  const lo = Math.floor(-p / s);
  const hi = Math.floor((s - 1 + p) / s);
  const K = hi - lo + 1;
  const out = new Float32Array(s * s * co * ci * K * K);
  for (let a = 0; a < s; a++) {
    for (let b = 0; b < s; b++) {
      for (let c = 0; c < co; c++) {
        const oc = (a * s + b) * co + c;
        for (let i = 0; i < ci; i++) {
          for (let dy = -p; dy <= p; dy++) {
            const ky = Math.floor((a + dy) / s) - lo;
            for (let dx = -p; dx <= p; dx++) {
              const kx = Math.floor((b + dx) / s) - lo;
              out[((oc * ci + i) * K + ky) * K + kx]! += w[((c * ci + i) * k + (dy + p)) * k + (dx + p)]!;
            }
          }
        }
      }
    }
  }
  return { weights: out, K, padBefore: -lo, padAfter: hi };
}

/** Rewrite every nearest-Resize → same-Conv pair; returns how many were rewritten. */
export function fuseSubpixelConvs(model: ModelProto): number {
  const graph = new Graph(model.graph!);
  let rewritten = 0;
  for (const resize of [...graph.nodes]) {
    if (resize.opType !== 'Resize' || !isFloorNearest(resize)) continue;
    const s = integerScale(graph, resize);
    const up = resize.output?.[0];
    if (!s || !up || graph.isGraphOutput(up)) continue;
    const consumers = graph.consumers(up);
    if (consumers.length !== 1) continue;
    const conv = consumers[0]!;
    const spec = sameConv(graph, conv);
    if (!spec || conv.input![0] !== up) continue;
    const wt = graph.initializer(spec.weight)!;
    const [co, ci] = tensorDims(wt) as [number, number];
    const { weights, K, padBefore, padAfter } = subpixelWeights(tensorToFloat32(wt), co, ci, spec.k, s);
    const base = conv.name || conv.output![0]!;
    const wName = graph.uniqueName(`${spec.weight}_subpixel`);
    graph.addInitializer(makeTensor(wName, DataType.FLOAT, [s * s * co, ci, K, K], weights));
    const inputs = [resize.input![0]!, wName];
    if (spec.bias) {
      const bias = tensorToFloat32(graph.initializer(spec.bias)!);
      const bName = graph.uniqueName(`${spec.bias}_subpixel`);
      const tiled = new Float32Array(s * s * co);
      for (let j = 0; j < s * s; j++) tiled.set(bias, j * co);
      graph.addInitializer(makeTensor(bName, DataType.FLOAT, [s * s * co], tiled));
      inputs.push(bName);
    }
    const convOut = conv.output![0]!;
    const lr = graph.uniqueName(`${convOut}_subpixel`);
    const subConv = makeNode('Conv', inputs, [lr], {
      kernel_shape: attr.ints([K, K]),
      pads: attr.ints([padBefore, padBefore, padAfter, padAfter]),
    }, `${base}_subpixel`);
    const shuffle = makeNode('DepthToSpace', [lr], [convOut], { blocksize: attr.int(s), mode: attr.string('DCR') }, `${base}_depth_to_space`);
    graph.removeNode(resize);
    graph.removeNode(conv);
    graph.addNode(subConv);
    graph.addNode(shuffle);
    rewritten++;
  }
  if (rewritten > 0) {
    graph.removeUnused();
    graph.sort();
  }
  return rewritten;
}

/**
 * DepthToSpace → Relu/Clip becomes Relu/Clip → DepthToSpace (elementwise ops commute with a permutation), so the
 * clamp can fold into the conv's quantized output and the shuffle moves raw values last.
 */
export function moveClampsBeforeShuffles(model: ModelProto): number {
  const graph = new Graph(model.graph!);
  let moved = 0;
  for (const shuffle of graph.nodes.filter((n) => n.opType === 'DepthToSpace')) if (moveClampBeforeShuffle(graph, shuffle)) moved++;
  if (moved > 0) graph.sort();
  return moved;
}

function moveClampBeforeShuffle(graph: Graph, shuffle: NodeProto): boolean {
  const out = shuffle.output![0]!;
  const consumers = graph.consumers(out);
  if (consumers.length !== 1 || graph.isGraphOutput(out)) return false;
  const clamp = consumers[0]!;
  if ((clamp.opType !== 'Relu' && clamp.opType !== 'Clip') || clamp.input![0] !== out) return false;
  const lr = shuffle.input![0]!;
  const clampOut = clamp.output![0]!;
  const clampedLr = graph.uniqueName(`${lr}_clamped`);
  clamp.input = [lr, ...clamp.input!.slice(1)];
  clamp.output = [clampedLr];
  shuffle.input = [clampedLr];
  shuffle.output = [clampOut];
  graph.invalidate();
  return true;
}
