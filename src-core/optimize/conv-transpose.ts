// A stride-s ConvTranspose equals a stride-1 Conv on the low-resolution grid with s²·C_out outputs followed by
// DepthToSpace (DCR), plus a crop when the transposed conv's pads cut rows the shuffle would keep. ORT's CPU EP
// has no int8 ConvTranspose kernel (it runs DQ → float ConvTranspose → Q), while the Conv becomes QLinearConv.
//
// Per axis: full-output row t = s·i + kk gets x[i]·w[kk]; the output row o is t = o + pad_begin. Output row
// o = s·q + a (LR row q, phase a) has t = s·(q + c) + r with a + pad_begin = s·c + r, so it reads x[q + c - j]·w[s·j + r]
// for s·j + r < k. Every phase's taps lie on LR offsets d = c - j; the conv kernel spans the union of those offsets.
import { attr, getAttr, getIntAttr, getIntsAttr, getStringAttr, makeNode } from '../onnx/build.ts';
import type { Graph } from '../onnx/graph.ts';
import { rewriteEach } from './rewrite-each.ts';
import { DataType, makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import { opsetVersion } from '../onnx/model.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';

interface AxisPlan {
  /** LR offset of the first kernel tap (≤ 0) and kernel length. */
  lo: number;
  K: number;
  padBefore: number;
  padAfter: number;
  /** HR rows the shuffle yields beyond the ConvTranspose's output (cropped at the end). */
  crop: number;
  /** For each phase a: [c, r] as above. */
  phases: [number, number][];
}

function planAxis(k: number, s: number, padBegin: number, padEnd: number, outputPadding: number): AxisPlan | undefined {
  const phases: [number, number][] = [];
  let dmin = 0;
  let dmax = 0;
  for (let a = 0; a < s; a++) {
    const c = Math.floor((a + padBegin) / s);
    const r = (a + padBegin) % s;
    phases.push([c, r]);
    const taps = Math.ceil((k - r) / s); // j = 0 .. taps-1
    if (taps <= 0) continue;
    dmax = Math.max(dmax, c);
    dmin = Math.min(dmin, c - taps + 1);
  }
  const lo = dmin;
  const K = dmax - lo + 1;
  // Output length Ho = s·(H - 1) + op + k - pb - pe = s·H + delta; the conv must give Q = H + ceil(delta / s) rows.
  const delta = -s + outputPadding + k - padBegin - padEnd;
  const extra = Math.ceil(delta / s);
  // Conv length = H + padBefore + padAfter - K + 1 = H + padAfter - dmax (padBefore = -lo).
  const padAfter = Math.max(0, dmax + extra);
  const rows = padAfter - dmax; // conv length minus H
  const crop = s * rows - delta;
  if (crop < 0) return undefined;
  return { lo, K, padBefore: -lo, padAfter, crop, phases };
}

/** Rewrite every eligible 2-D ConvTranspose; returns how many were rewritten. */
export function convTransposesToSubpixel(model: ModelProto): number {
  const opset = opsetVersion(model) ?? 1;
  return rewriteEach(model, 'ConvTranspose', (graph, node) => rewrite(graph, node, opset));
}

function rewrite(graph: Graph, node: NodeProto, opset: number): boolean {
  const [x, wName, bName] = node.input ?? [];
  const wt = wName ? graph.initializer(wName) : undefined;
  if (!x || !wt || wt.dataType !== DataType.FLOAT) return false;
  const dims = tensorDims(wt);
  if (dims.length !== 4) return false;
  const [ci, co, kh, kw] = dims as [number, number, number, number];
  if (getIntAttr(node, 'group', 1) !== 1) return false;
  if (getAttr(node, 'output_shape') !== undefined) return false;
  if (getStringAttr(node, 'auto_pad', 'NOTSET') !== 'NOTSET') return false;
  if (getIntsAttr(node, 'dilations', [1, 1]).some((v) => v !== 1)) return false;
  const ks = getIntsAttr(node, 'kernel_shape', [kh, kw]);
  if (ks[0] !== kh || ks[1] !== kw) return false;
  const [sh, sw] = getIntsAttr(node, 'strides', [1, 1]) as [number, number];
  if (sh !== sw || sh < 1) return false;
  const s = sh;
  const pads = getIntsAttr(node, 'pads', [0, 0, 0, 0]);
  const op = getIntsAttr(node, 'output_padding', [0, 0]);
  if (pads.length !== 4 || op.length !== 2 || pads.some((p) => p < 0) || op.some((p) => p < 0 || p >= s)) return false;
  let bias: Float32Array | undefined;
  if (bName) {
    const bt = graph.initializer(bName);
    if (!bt || bt.dataType !== DataType.FLOAT) return false;
    bias = tensorToFloat32(bt);
  }
  const py = planAxis(kh, s, pads[0]!, pads[2]!, op[0]!);
  const px = planAxis(kw, s, pads[1]!, pads[3]!, op[1]!);
  if (!py || !px) return false;
  // Slice takes its bounds as inputs from opset 10 on; DepthToSpace has its mode attribute from opset 11 (DCR before).
  if ((py.crop > 0 || px.crop > 0) && opset < 10) return false;

  const w = tensorToFloat32(wt);
  const out = new Float32Array(s * s * co * ci * py.K * px.K);
  for (let a = 0; a < s; a++) {
    const [cy, ry] = py.phases[a]!;
    for (let b = 0; b < s; b++) {
      const [cx, rx] = px.phases[b]!;
      for (let c = 0; c < co; c++) {
        const oc = (a * s + b) * co + c;
        for (let i = 0; i < ci; i++) {
          for (let jy = 0; s * jy + ry < kh; jy++) {
            const ky = cy - jy - py.lo;
            for (let jx = 0; s * jx + rx < kw; jx++) {
              const kx = cx - jx - px.lo;
              out[((oc * ci + i) * py.K + ky) * px.K + kx] = w[((i * co + c) * kh + s * jy + ry) * kw + s * jx + rx]!;
            }
          }
        }
      }
    }
  }
  const base = node.name || node.output![0]!;
  const newW = graph.uniqueName(`${wName}_subpixel`);
  graph.addInitializer(makeTensor(newW, DataType.FLOAT, [s * s * co, ci, py.K, px.K], out));
  const inputs = [x, newW];
  if (bias) {
    const tiled = new Float32Array(s * s * co);
    for (let j = 0; j < s * s; j++) tiled.set(bias, j * co);
    const newB = graph.uniqueName(`${bName}_subpixel`);
    graph.addInitializer(makeTensor(newB, DataType.FLOAT, [s * s * co], tiled));
    inputs.push(newB);
  }
  const y = node.output![0]!;
  const needsCrop = py.crop > 0 || px.crop > 0;
  const shuffled = needsCrop ? graph.uniqueName(`${y}_uncropped`) : y;
  const lr = s > 1 ? graph.uniqueName(`${y}_subpixel`) : shuffled;
  const nodes: NodeProto[] = [
    makeNode('Conv', inputs, [lr], {
      kernel_shape: attr.ints([py.K, px.K]),
      pads: attr.ints([py.padBefore, px.padBefore, py.padAfter, px.padAfter]),
    }, graph.uniqueName(`${base}_subpixel`)),
  ];
  if (s > 1) nodes.push(makeNode('DepthToSpace', [lr], [shuffled], opset >= 11 ? { blocksize: attr.int(s), mode: attr.string('DCR') } : { blocksize: attr.int(s) }, graph.uniqueName(`${base}_depth_to_space`)));
  if (needsCrop) {
    const axes: number[] = [];
    const ends: number[] = [];
    if (py.crop > 0) { axes.push(2); ends.push(-py.crop); }
    if (px.crop > 0) { axes.push(3); ends.push(-px.crop); }
    const names = ['starts', 'ends', 'axes'].map((n) => graph.uniqueName(`${base}_crop_${n}`));
    graph.addInitializer(makeTensor(names[0]!, DataType.INT64, [axes.length], BigInt64Array.from(axes.map(() => 0n))));
    graph.addInitializer(makeTensor(names[1]!, DataType.INT64, [axes.length], BigInt64Array.from(ends.map(BigInt))));
    graph.addInitializer(makeTensor(names[2]!, DataType.INT64, [axes.length], BigInt64Array.from(axes.map(BigInt))));
    nodes.push(makeNode('Slice', [shuffled, ...names], [y], {}, graph.uniqueName(`${base}_crop`)));
  }
  graph.removeNode(node);
  for (const n of nodes) graph.addNode(n);
  return true;
}
