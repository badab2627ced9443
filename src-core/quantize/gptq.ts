// Int8 conv weights rounded from data (GPTQ, Frantar et al. 2023: the error feedback of the Optimal Brain Quantizer).
// Nearest rounding treats each weight alone, but a conv's output error over its input patches x is
// Σ_o E[(Δw_o·x)²] = Σ_o Δw_oᵀ H Δw_o with H = E[x xᵀ]. GPTQ rounds one weight of a row at a time and moves the
// weights not yet rounded by what H says they can absorb (w_j+1… −= e_j · U[j, j+1…] / U[j, j], U the upper
// Cholesky factor of H⁻¹). H comes from the float model on a few calibration tiles: patches sampled from each conv's
// input, their Gram matrices run in onnxruntime. It is taken block-diagonal over groups of whole input channels
// (blocksOf), which bounds the cost of deep, wide convs. Rows are rounded in the order ORT reduces them
// (weight-rounding.ts), so each int16 pair is kept within PAIR_LIMIT as it is rounded and the rest absorbs that
// step too. H is the uncentered second moment, so the error on the patches' mean (what keepKernelSums corrects after
// nearest rounding) is part of what GPTQ minimises. 2-D group-1 convs only; other weights keep nearest rounding.
import { attr, getIntAttr, getIntsAttr, makeGraph, makeModel, makeNode, makeValueInfo } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { computingOnly } from '../onnx/keep-only.ts';
import { encodeModel } from '../onnx/model.ts';
import { DataType, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { ModelProto } from '../onnx/types.ts';
import type { RasterImage } from '../image/raster.ts';
import { stepProgress } from '../progress.ts';
import { convGeometry, resolvedPads } from './bias-correction.ts';
import type { RunnerFactory } from './calibrate.ts';
import { rasterToTensor, seededRandom } from './calibration-tiles.ts';
import type { QuantPlan } from './plan.ts';
import { channelScales, roundWeight } from './params.ts';
import { PAIR_LIMIT, reductionOrder, type ReductionOrder } from './weight-rounding.ts';

/**
 * Patches H is measured on (a 64-channel 3×3 conv has 576 inputs), cut from up to GPTQ_TILES calibration tiles:
 * 8 tiles of 512 patches each gave Real-ESRGAN x4fast the same fidelity as 16, and damping 0.001–0.1 within 0.1 dB.
 */
const GPTQ_PATCHES = 4096;
const GPTQ_TILES = 8;
/** Input tensors read back per session (ORT keeps graph outputs to the end of a run: 32 × 12 MB on x4plus). */
const TENSORS_PER_SESSION = 32;
/** H's diagonal is raised by this share of its mean (GPTQ's damping): H from 4096 patches is only an estimate. */
const DAMPING = 0.01;

/**
 * Float model runs roundWeightsFromData makes for convs reading `inputs` distinct tensors: one session per
 * TENSORS_PER_SESSION of them, each over GPTQ_TILES tiles shared out between sessions, at least 2 each.
 */
export function gptqTileRuns(inputs: number): { sessions: number; tilesPerSession: number } {
  const sessions = Math.max(1, Math.ceil(inputs / TENSORS_PER_SESSION));
  return { sessions, tilesPerSession: Math.max(2, Math.ceil(GPTQ_TILES / sessions)) };
}

/** A conv whose weight is rounded from data: what it reads and how it slides over it. */
interface Target {
  weight: string;
  /** ORT's reduction order of the weight (weight-rounding.ts). */
  order: ReductionOrder;
  input: string;
  /** Inputs per output channel (ci·kh·kw), in the weight's own layout. */
  size: number;
  cin: number;
  kh: number;
  kw: number;
  strides: [number, number];
  dilations: [number, number];
  pads: [number, number, number, number];
}

/** The planned convs GPTQ can round: 2-D, group 1, per-output-channel weight read by this conv only. */
function targetsOf(model: ModelProto, plan: QuantPlan): Target[] {
  const g = new Graph(model.graph!);
  const readers = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.input ?? []) readers.set(i, (readers.get(i) ?? 0) + 1);
  return g.nodes.flatMap((n) => {
    const [input, weight] = n.input ?? [];
    const t = weight ? g.initializer(weight) : undefined;
    if (n.opType !== 'Conv' || !plan.quantizedNodes.has(n) || !input || !t || readers.get(weight!) !== 1) return [];
    const dims = tensorDims(t);
    if (dims.length !== 4 || plan.weights.get(weight!)?.axis !== 0 || getIntAttr(n, 'group', 1) !== 1) return [];
    const geo = convGeometry(n, dims);
    const [, cin, kh, kw] = dims as [number, number, number, number];
    return [{
      weight: weight!, order: reductionOrder(dims, 0)!, input, size: cin * kh * kw, cin, kh, kw,
      strides: getIntsAttr(n, 'strides', [1, 1]) as [number, number], dilations: geo.dilations,
      pads: resolvedPads(geo.pads, kh, kw, geo.dilations[0], geo.dilations[1]),
    }];
  });
}

/** A session that returns XᵀX for X [n, k]: the Gram matrix of n patches. */
function gramModel(): Uint8Array {
  const graph = makeGraph({
    name: 'srq_gram',
    nodes: [makeNode('Transpose', ['x'], ['xt'], { perm: attr.ints([1, 0]) }), makeNode('MatMul', ['xt', 'x'], ['gram'])],
    inputs: [makeValueInfo('x', DataType.FLOAT, ['n', 'k'])],
    outputs: [makeValueInfo('gram', DataType.FLOAT, ['k', 'k'])],
  });
  return encodeModel(makeModel(graph, { opset: 13 }));
}

/** `count` patches of one conv's input [1, C, H, W] at seeded output positions, as rows of [count, size]. */
function samplePatches(t: Target, x: Float32Array, height: number, width: number, count: number, random: () => number): Float32Array {
  const [sh, sw] = t.strides;
  const [dh, dw] = t.dilations;
  const [top, left, bottom, right] = t.pads;
  const outH = Math.floor((height + top + bottom - dh * (t.kh - 1) - 1) / sh) + 1;
  const outW = Math.floor((width + left + right - dw * (t.kw - 1) - 1) / sw) + 1;
  const rows = new Float32Array(count * t.size);
  for (let s = 0; s < count; s++) {
    const oy = Math.floor(random() * outH);
    const ox = Math.floor(random() * outW);
    let k = s * t.size;
    for (let c = 0; c < t.cin; c++) {
      const plane = c * height * width;
      for (let ky = 0; ky < t.kh; ky++) {
        const iy = oy * sh - top + ky * dh;
        for (let kx = 0; kx < t.kw; kx++, k++) {
          const ix = ox * sw - left + kx * dw;
          if (iy >= 0 && iy < height && ix >= 0 && ix < width) rows[k] = x[plane + iy * width + ix]!;
        }
      }
    }
  }
  return rows;
}

/** A conv weight GPTQ rounded: int8 values at these per-channel scales (params.ts takes them when its scales agree). */
export interface RoundedWeight { data: Int8Array; scales: Float32Array }

/** One block of a row's reduction indices (blocksOf) and H over them, accumulated over patches. */
interface Block { indices: number[]; h: Float32Array }

/**
 * Int8 weights of each conv GPTQ can round, by weight name: H over each block of its inputs (blocksOf) from sampled
 * input patches of the float model on the first tiles (gptqTileRuns), then roundWithHessian at the scales nearest
 * rounding would use (channelScales). A session's statistics are dropped once its convs are rounded: only the int8
 * weights are kept (x4plus's full H would take 4 GB). Convs whose weights are `already` rounded are skipped.
 */
export async function roundWeightsFromData(
  model: ModelProto,
  plan: QuantPlan,
  tiles: readonly RasterImage[],
  createRunner: RunnerFactory,
  onProgress?: (message: string) => void,
  already: ReadonlyMap<string, RoundedWeight> = new Map(),
): Promise<Map<string, RoundedWeight>> {
  const targets = targetsOf(model, plan).filter((t) => !already.has(t.weight));
  const rounded = new Map<string, RoundedWeight>();
  if (targets.length === 0) return rounded;
  const g = new Graph(model.graph!);
  const graphInputs = new Set((model.graph!.input ?? []).map((i) => i.name));
  const inputs = [...new Set(targets.map((t) => t.input))];
  const parts = Array.from({ length: Math.ceil(inputs.length / TENSORS_PER_SESSION) }, (_, p) => inputs.slice(p * TENSORS_PER_SESSION, (p + 1) * TENSORS_PER_SESSION));
  const used = tiles.slice(0, gptqTileRuns(inputs.length).tilesPerSession);
  const perTile = Math.ceil(GPTQ_PATCHES / used.length);
  const gram = await createRunner(gramModel(), { memoryPattern: false });
  const done = stepProgress('GPTQ: tile', used.length * parts.length, onProgress);
  try {
    for (const [p, part] of parts.entries()) {
      const convs = targets.filter((t) => part.includes(t.input)).map((t) => {
        const at = Int32Array.from({ length: t.size }, (_, j) => t.order.index(0, j));
        const blocks: Block[] = blocksOf(t.order).map((indices) => ({ indices, h: new Float32Array(indices.length ** 2) }));
        return { t, at, blocks };
      });
      // A part that reads only the graph input (the image) needs no session of the model; the others run the model
      // up to their inputs only (keep-only.ts: x4plus's 11 parts 0.57 of whole runs).
      const fetched = part.filter((t) => !graphInputs.has(t));
      const runner = fetched.length > 0 ? await createRunner(encodeModel(computingOnly(model, fetched)), { memoryPattern: false }) : undefined;
      try {
        for (const [i, tile] of used.entries()) {
          const { data, dims } = rasterToTensor(tile);
          const out = runner ? await runner.runOutputs(data, dims, fetched) : {};
          for (const { t, at, blocks } of convs) {
            const x = graphInputs.has(t.input) ? { data, dims } : out[t.input]!;
            const [, , height, width] = x.dims as [number, number, number, number];
            const random = seededRandom(0x9e3779b9 ^ (i * 7919 + t.size));
            const patches = samplePatches(t, x.data, height, width, perTile, random);
            for (const block of blocks) {
              const b = block.indices.length;
              const columns = new Float32Array(perTile * b);
              for (let r = 0; r < perTile; r++) for (let c = 0; c < b; c++) columns[r * b + c] = patches[r * t.size + at[block.indices[c]!]!]!;
              const gr = (await gram.run(columns, [perTile, b])).data;
              for (let k = 0; k < gr.length; k++) block.h[k]! += gr[k]!;
            }
          }
          done(p * used.length + i + 1);
        }
      } finally {
        await runner?.release();
      }
      for (const { t, blocks } of convs) {
        const w = g.initializer(t.weight)!;
        const weights = tensorToFloat32(w);
        const scales = channelScales(weights, tensorDims(w), 0, t.order);
        rounded.set(t.weight, { data: roundWithHessian(weights, scales, blocks, t.order), scales });
      }
    }
  } finally {
    await gram.release();
  }
  return rounded;
}

/** Lower Cholesky factor of a symmetric positive definite n×n matrix (row-major), in place of a copy. */
function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = i === j ? Math.sqrt(Math.max(s, 1e-30)) : s / l[j * n + j]!;
    }
  }
  return l;
}

/**
 * The factor GPTQ's feedback needs (roundWithHessian): P H P = L Lᵀ with P the order reversal, returned as Lᵀ
 * row-major (row i holds column i of L, contiguous for the feedback sums). H⁻¹ = UᵀU with U = P L⁻¹ P upper
 * triangular is GPTQ's own form; its feedback needs only L, not the inverse (which cost as much again).
 */
function reversedCholeskyTransposed(h: Float64Array, n: number): Float64Array {
  const reversed = new Float64Array(n * n);
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) reversed[a * n + b] = h[(n - 1 - a) * n + (n - 1 - b)]!;
  const l = cholesky(reversed, n);
  const lt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) lt[i * n + j] = l[j * n + i]!;
  return lt;
}

/**
 * The reduction indices of one row in blocks GPTQ rounds together: whole input channels (all their taps), an even
 * count of them, at most BLOCK_SIZE indices a block; each block in reduction order. H is taken block-diagonal: the
 * factorisation costs n³ in the block size, so a 192-channel 3×3 conv (1728 inputs) costs three 576² blocks instead
 * of one 1728² (≈ 9× less), and a block still holds each channel's kernel and each int16 pair.
 */
function blocksOf(order: ReductionOrder): number[][] {
  const n = order.length;
  const taps = order.taps ?? 1;
  const ci = order.inputChannels ?? n;
  if (n <= BLOCK_SIZE) return [Array.from({ length: n }, (_, j) => j)];
  const perBlock = Math.max(2, 2 * Math.floor(BLOCK_SIZE / taps / 2));
  const blocks: number[][] = [];
  for (let c0 = 0; c0 < ci; c0 += perBlock) {
    const block: number[] = [];
    for (let t = 0; t < taps; t++) for (let c = c0; c < Math.min(ci, c0 + perBlock); c++) block.push(t * ci + c);
    blocks.push(block);
  }
  return blocks;
}

/** Inputs GPTQ factorises together (one 64-channel 3×3 conv row). */
const BLOCK_SIZE = 576;

/**
 * Int8 weights of a conv [co, …] at per-channel `scales`, rounded by GPTQ block by block (`blocks`: reduction
 * indices and H over them, from blocksOf), with every same-sign pair of ORT's order within PAIR_LIMIT.
 */
export function roundWithHessian(weights: Float32Array, scales: Float32Array, blocks: readonly Block[], order: ReductionOrder): Int8Array {
  const n = order.length;
  const co = scales.length;
  let trace = 0;
  for (const { indices, h } of blocks) for (let x = 0; x < indices.length; x++) trace += h[x * indices.length + x]!;
  const damp = DAMPING * (trace / n || 1);
  const rows = new Float64Array(co * n);
  for (let o = 0; o < co; o++) for (let j = 0; j < n; j++) rows[o * n + j] = weights[order.index(o, j)]!;
  const q = new Int8Array(co * n);
  const rounded = new Uint8Array(n);
  for (const { indices: block, h: measured } of blocks) {
    const b = block.length;
    const h = Float64Array.from(measured);
    // An input no patch ever reached (a dead channel) gets a unit diagonal: its weights then round to nearest.
    for (let x = 0; x < b; x++) h[x * b + x] = (h[x * b + x]! > 0 ? h[x * b + x]! : 1) + damp;
    const lt = reversedCholeskyTransposed(h, b);
    const position = new Map(block.map((j, x) => [j, x]));
    // GPTQ moves the weights not yet rounded by w_y −= e_x·U[x, y] / … with e_x = (w_x − q_x·s) / U[x, x]. Their sum
    // over the x rounded so far is a back substitution in Lᵀ (U = P L⁻¹ P), which reduces to: weight i is rounded
    // from w_i + Σ_y Lᵀ[i, y]·(w_y − q_y·s) / Lᵀ[i, i] over the weights y rounded before it, each at its own error
    // from its original value (Babai's nearest plane; Chen et al. 2025). In reversed order: the first rounded is last.
    const error = new Float64Array(b);
    for (let o = 0; o < co; o++) {
      const s = scales[o]!;
      const row = o * n;
      for (let x = 0; x < b; x++) {
        const i = b - 1 - x;
        const li = i * b;
        let moved = 0;
        for (let y = i + 1; y < b; y++) moved += lt[li + y]! * error[y]!;
        const j = block[x]!;
        const w = rows[row + j]! + moved / lt[li + i]!;
        let v = roundWeight(w, s);
        // ORT adds reduction indices 2m and 2m + 1 in int16: the later-rounded one gives back steps.
        const partner = j ^ 1;
        if (partner < n && (rounded[partner] || (position.get(partner) ?? b) < x)) {
          const p = q[row + partner]!;
          if (v * p > 0 && Math.abs(v) + Math.abs(p) > PAIR_LIMIT) v = Math.sign(v) * (PAIR_LIMIT - Math.abs(p));
        }
        q[row + j] = v;
        error[i] = rows[row + j]! - v * s;
      }
    }
    for (const j of block) rounded[j] = 1;
  }
  const data = new Int8Array(weights.length);
  for (let o = 0; o < co; o++) for (let j = 0; j < n; j++) data[order.index(o, j)] = q[o * n + j]!;
  return data;
}
