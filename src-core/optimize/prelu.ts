// PRelu without a float pass per layer. ORT's CPU EP has no int8 PRelu, so every PRelu of a QDQ model runs as
// DQ → float PRelu → Q (an SRVGGNetCompact has one after each of its convs). With u = (1 + α)/2, v = (1 − α)/2:
//   PRelu(y) = u·y + v·|y|,  and |y| = LeakyRelu(y, alpha = −1), which ORT runs in int8 (QLinearLeakyRelu, a table).
// Exact forms (equal up to float rounding), chosen by `mode`:
// - 'concat' (PRelu read by one Conv only): the conv's input becomes Concat(y, |y|) and its weights
//   [W·u, W·v] along the input channels: twice that conv's multiply-adds, all int8, no elementwise pass.
// - 'mul-add' (`srq quantize --prelu mul-add`): u·y + v·|y| as Mul, LeakyRelu, Mul, Add (QLinearMul / QLinearLeakyRelu /
//   QLinearAdd). Folding u into the conv (u > 0) saves a Mul but measured no faster and 0.7 dB less fidelity
//   (it reshapes the conv output's per-tensor int8 range).
// - 'pair-conv' (srq quantize's and the job's form on onnxruntime-node, quantize/static.ts defaultPreluForm):
//   Concat(y, |y|) → a 1×1 conv whose row c reads only y_c and |y|_c (weights u_c, v_c; a zero bias, so that bias
//   correction takes the mix's mean shift out: drop 0.106 → 0.097 dB). |y| shares y's int8 range (concat-ranges.ts),
//   so it is exact and the Concat copies bytes: the only roundings are y's and the conv's output, as with the PRelu
//   whole, with every op in an int8 kernel. Costs 2C·C multiply-adds a pixel (+22% on a 3×3 C→C conv); the weights,
//   two non-zeros a row, are stored sparse (onnx/sparse.ts) and their scale fitted to both (quantize/params.ts).
//   Real-ESRGAN x4fast, this no-VNNI machine, idle, `npm run bench:corpus` (256² tile), two runs: node×2 2.65–2.77×
//   (mul-add 2.12–2.39×, whole 1.39–1.49×), web×1 1.45–1.53× (mul-add 1.45–1.60×, whole 1.45–1.58×); held out (`srq quantize`, `srq validate`): 39.89 dB,
//   drop 0.093 (mul-add 38.90 / 0.189, whole 40.15 / 0.074); size 28% of FP32 (27%, 26%; 33% stored dense).
//   Tried: Concat(y, Relu(y)) with weights α_c and 1 − α_c, which keeps y's own range (Relu(y) lies within it where
//   |y| may not): 39.87 dB but drop 0.130. And |y|'s range derived from y's ([0, max(−min, max)]) instead of its own
//   MSE range, which widens the shared range of x4fast's pre-PReLU convs by 2–9% (`srq quantize --report` put the
//   pair form's per-tensor error 0.1–0.35 dB above whole's from the first conv on): 39.93 dB but drop 0.125.
// - 'relu-neg': Relu(y) − α·Relu(−y) (Neg has no int8 kernel; measured for comparison).
// - 'depthwise': 'mul-add' with each per-channel Mul as a 1×1 depthwise Conv (QLinearConv, group = C). ORT-node runs
//   a Mul by a [1, C, 1, 1] constant on one thread (its general broadcast loop: 29% of x4fast's INT8 run at 2 threads,
//   as long as at 1), and a depthwise QLinearConv on all. x4fast, 256² tile, one idle run against FP32: node×2
//   3.12× (mul-add 2.14×), node×1 3.29× (3.21×), but web×1 1.51× (1.96×) and web×2 1.71× (1.97×): wasm's QLinearConv
//   has no fast depthwise path.
// Only for static INT8: in float these cost more than the PRelu they replace. The job keeps PReLUs whole instead
// (quantizeStatic's wholePrelus) when the rewritten file misses its gate: 1.3 dB closer to FP32 on x4fast; the
// accuracy-aware search keeps single PReLUs whole (its layer for a PRelu is the four ops that replaced it).
// Measured on Real-ESRGAN x4fast (33 PRelus, slopes −1.6…1.9), ORT-node 1.30, 2 threads, 256² tile: FP32 542 ms;
// INT8 as is 410 ms (1.32×), 'mul-add' 201 ms (2.69×), 'concat' 309 ms (1.77×), 'relu-neg' 448 ms (1.22×).
// ORT-web (wasm, 2 threads, same tile): FP32 5800 ms; as is 1.91×, 'mul-add' 1.98×, 'concat' 1.23×, 'relu-neg' 1.67×.
// (Those 'mul-add' numbers are with u folded into the conv; the four-op form ran 2.24× against its 2.14× in one
// loaded run.) Fidelity (PSNR of INT8 vs FP32 output, 6 crops of 128², srq's default 32-tile calibration): as is
// 38.1 dB, 'mul-add' 36.7 (36.0 with u folded), 'relu-neg' 37.4, 'concat' 35.0. Tried and dropped: a LeakyRelu slope β = the layer's median α
// (P = A·y + B·LeakyRelu_β(y)) with B folded into either conv: 33.9–34.9 dB (these slopes reach past ±1, so some
// channels get B ≤ 0 or B ≈ 0 and fall back or blow up A/B).
import { attr, getIntAttr, makeNode } from '../onnx/build.ts';
import type { Graph } from '../onnx/graph.ts';
import { rewriteEach } from './rewrite-each.ts';
import { DataType, makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';
import { floatConstant, perChannel, soleConsumer } from './constants.ts';

export type PreluMode = 'concat' | 'mul-add' | 'relu-neg' | 'depthwise' | 'pair-conv';

/** One PRelu's int8 form: the PRelu's name (its output's when unnamed) and the nodes that replaced it. */
export interface PreluRewrite { prelu: string; nodes: string[] }

/** Rewrites every PRelu it can, except those named in `keepWhole`; returns what each became. */
export function rewritePrelus(model: ModelProto, mode: PreluMode = 'mul-add', keepWhole: ReadonlySet<string> = new Set()): PreluRewrite[] {
  const rewrites: PreluRewrite[] = [];
  rewriteEach(model, 'PRelu', (graph, node) => {
    const prelu = preluName(node);
    if (keepWhole.has(prelu)) {
      node.name ||= prelu; // so that it can be named, e.g. kept float
      return false;
    }
    const nodes = rewrite(graph, node, mode);
    if (nodes) rewrites.push({ prelu, nodes: nodes.map((n) => n.name!) });
    return nodes !== undefined;
  });
  return rewrites;
}

export function preluName(node: NodeProto): string {
  return node.name || node.output?.[0] || '';
}

/** Channel count of y when its producer is a Conv with an initializer weight (PRelu's slope broadcast needs it). */
function channelsOf(graph: Graph, y: string): number | undefined {
  const p = graph.producer(y);
  if (!p || p.opType !== 'Conv') return undefined;
  const w = graph.initializer(p.input?.[1] ?? '');
  return w ? tensorDims(w)[0] : undefined;
}

/** The nodes that replaced the PRelu, or undefined when it stays (slope or channels unknown, form not applicable). */
function rewrite(graph: Graph, prelu: NodeProto, mode: PreluMode): NodeProto[] | undefined {
  const [y, slopeName] = prelu.input ?? [];
  const out = prelu.output?.[0];
  if (!y || !slopeName || !out) return undefined;
  const channels = channelsOf(graph, y);
  const slope = floatConstant(graph, slopeName);
  const alpha = channels && slope ? perChannel(slope, 4, channels) : undefined;
  if (!alpha) return undefined;
  const base = preluName(prelu);
  const C = channels!;
  const u = alpha.map((a) => (1 + a) / 2);
  const v = alpha.map((a) => (1 - a) / 2);
  const abs = () => makeNode('LeakyRelu', [y], [graph.uniqueName(`${base}_abs`)], { alpha: attr.float(-1) }, graph.uniqueName(`${base}_abs`));
  // Per-channel constants: [1, C, 1, 1] to broadcast in a Mul, [C, 1, 1, 1] as a depthwise conv's weight.
  const constant = (name: string, data: Float32Array, dims = [1, C, 1, 1]) => {
    const n = graph.uniqueName(`${base}_${name}`);
    graph.addInitializer(makeTensor(n, DataType.FLOAT, dims, data));
    return n;
  };
  if (mode === 'concat') {
    const conv = soleConsumer(graph, out);
    if (!conv || conv.opType !== 'Conv' || conv.input?.[0] !== out || getIntAttr(conv, 'group', 1) !== 1) return undefined;
    const wt = graph.initializer(conv.input[1] ?? '');
    if (!wt || wt.dataType !== DataType.FLOAT) return undefined;
    const dims = tensorDims(wt);
    if (dims[1] !== C) return undefined;
    const w = tensorToFloat32(wt);
    const [co] = dims as [number];
    const spatial = w.length / (co * C);
    const w2 = new Float32Array(2 * w.length);
    for (let o = 0; o < co; o++) {
      for (let i = 0; i < C; i++) {
        for (let j = 0; j < spatial; j++) {
          const x = w[(o * C + i) * spatial + j]!;
          w2[(o * 2 * C + i) * spatial + j] = x * u[i]!;
          w2[(o * 2 * C + C + i) * spatial + j] = x * v[i]!;
        }
      }
    }
    const wName = graph.uniqueName(`${conv.input[1]}_prelu`);
    graph.addInitializer(makeTensor(wName, DataType.FLOAT, [co, 2 * C, ...dims.slice(2)], w2));
    const a = abs();
    const cat = makeNode('Concat', [y, a.output![0]!], [out], { axis: attr.int(1) }, graph.uniqueName(`${base}_concat`));
    conv.input = [out, wName, ...conv.input.slice(2)];
    graph.removeNode(prelu);
    graph.addNode(a);
    graph.addNode(cat);
    return [a, cat];
  }
  if (mode === 'pair-conv') {
    // A zero bias, so that bias correction can take the mix's mean shift out (x4fast: drop 0.106 → 0.097 dB).
    const a = abs();
    const cat = graph.uniqueName(`${base}_pair`);
    const w = new Float32Array(C * 2 * C);
    for (let c = 0; c < C; c++) {
      w[c * 2 * C + c] = u[c]!;
      w[c * 2 * C + C + c] = v[c]!;
    }
    const nodes = [
      a,
      makeNode('Concat', [y, a.output![0]!], [cat], { axis: attr.int(1) }, cat),
      makeNode('Conv', [cat, constant('mix', w, [C, 2 * C, 1, 1]), constant('mix_bias', new Float32Array(C), [C])], [out], { kernel_shape: attr.ints([1, 1]) }, graph.uniqueName(`${base}_mix`)),
    ];
    graph.removeNode(prelu);
    for (const n of nodes) graph.addNode(n);
    return nodes;
  }
  if (mode === 'mul-add' || mode === 'depthwise') {
    const a = abs();
    const m1 = graph.uniqueName(`${base}_pos`);
    const m2 = graph.uniqueName(`${base}_neg`);
    const scale = (x: string, name: string, data: Float32Array, o: string) => mode === 'mul-add'
      ? makeNode('Mul', [x, constant(name, data)], [o], {}, o)
      : makeNode('Conv', [x, constant(name, data, [C, 1, 1, 1])], [o], { group: attr.int(C), kernel_shape: attr.ints([1, 1]) }, o);
    const nodes = [
      a,
      scale(y, 'u', u, m1),
      scale(a.output![0]!, 'v', v, m2),
      makeNode('Add', [m1, m2], [out], {}, graph.uniqueName(`${base}_add`)),
    ];
    graph.removeNode(prelu);
    for (const n of nodes) graph.addNode(n);
    return nodes;
  }
  // relu-neg
  const pos = graph.uniqueName(`${base}_relu`);
  const negY = graph.uniqueName(`${base}_negy`);
  const negR = graph.uniqueName(`${base}_relu_neg`);
  const scaled = graph.uniqueName(`${base}_scaled`);
  const nodes = [
    makeNode('Relu', [y], [pos], {}, pos),
    makeNode('Neg', [y], [negY], {}, negY),
    makeNode('Relu', [negY], [negR], {}, negR),
    makeNode('Mul', [negR, constant('alpha', alpha)], [scaled], {}, scaled),
    makeNode('Sub', [pos, scaled], [out], {}, graph.uniqueName(`${base}_sub`)),
  ];
  graph.removeNode(prelu);
  for (const n of nodes) graph.addNode(n);
  return nodes;
}
