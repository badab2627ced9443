// Dynamic INT8: int8-sized weights stored once, activations quantized at run time (DynamicQuantizeLinear), the
// product computed in integers (ConvInteger / MatMulInteger) and rescaled to float — ORT's quantize_dynamic
// pattern. No calibration needed. Weights are per-tensor *uint8* with a zero point: ORT's ConvInteger kernel
// rejects per-channel weight zero points and runs int8 weights far slower (measured: runtime-facts.md).
import { attr, makeNode } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { setMetadata, cloneModel } from '../onnx/model.ts';
import { DataType, makeTensor, tensorDims, tensorToFloat32 } from '../onnx/tensor.ts';
import type { ModelProto, NodeProto } from '../onnx/types.ts';
import { optimizeGraph } from '../optimize/index.ts';
import { SRQ_VERSION } from '../version.ts';
import { atQdqOpset, checkFloatModel } from './checks.ts';
import type { OpsetUpgrade } from '../onnx/opset-upgrade.ts';
import { computeQParams } from './params.ts';
import { QuantizeError } from './rewrite.ts';

export interface DynamicQuantizeOptions { exclude?: readonly string[]; name?: string }

export interface DynamicQuantizeResult {
  model: ModelProto;
  quantizedNodes: string[];
  /** Set when the model was upgraded from an older opset first (what changed). */
  opsetUpgrade?: OpsetUpgrade;
}

/** Per-tensor asymmetric uint8 weights (min..max, 0 exact). */
function quantizeWeightU8(values: Float32Array): { data: Uint8Array; scale: number; zeroPoint: number } {
  let min = 0;
  let max = 0;
  for (const v of values) { if (v < min) min = v; if (v > max) max = v; }
  const { scale, zeroPoint } = computeQParams(min, max, 'u8');
  const data = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = Math.min(255, Math.max(0, Math.round(values[i]! / scale) + zeroPoint));
  return { data, scale, zeroPoint };
}

export function quantizeDynamic(source: ModelProto, opts: DynamicQuantizeOptions = {}): DynamicQuantizeResult {
  const name = opts.name ?? 'the model';
  checkFloatModel(source, name);
  // DynamicQuantizeLinear exists from opset 11; older models are upgraded to 13 as for static INT8.
  const { model: ready, opsetUpgrade } = atQdqOpset(source, name);
  const model = cloneModel(ready);
  optimizeGraph(model);
  const graph = new Graph(model.graph!);
  const excluded = new Set(opts.exclude ?? []);
  const quantizedNodes: string[] = [];
  // One DynamicQuantizeLinear per activation, shared by every consumer.
  const dynamicInputs = new Map<string, { q: string; scale: string; zp: string }>();

  const quantizeInput = (x: string) => {
    let entry = dynamicInputs.get(x);
    if (!entry) {
      entry = { q: graph.uniqueName(`${x}_quantized`), scale: graph.uniqueName(`${x}_scale`), zp: graph.uniqueName(`${x}_zero_point`) };
      graph.addNode(makeNode('DynamicQuantizeLinear', [x], [entry.q, entry.scale, entry.zp], {}, `${x}_DynamicQuantizeLinear`));
      dynamicInputs.set(x, entry);
    }
    return entry;
  };

  for (const node of [...graph.topologicalOrder()]) {
    if (excluded.has(node.name ?? '') || excluded.has(node.opType ?? '')) continue;
    if (node.opType !== 'Conv' && node.opType !== 'MatMul') continue;
    const [x, w, b] = node.input ?? [];
    const weight = w ? graph.initializer(w) : undefined;
    if (!x || !weight || weight.dataType !== DataType.FLOAT) continue;
    const out = node.output![0]!;
    const base = node.name || out;
    const wq = quantizeWeightU8(tensorToFloat32(weight));
    const wqName = graph.uniqueName(`${w}_quantized`);
    const wzName = graph.uniqueName(`${w}_zero_point`);
    const wsName = graph.uniqueName(`${w}_scale`);
    graph.addInitializer(makeTensor(wqName, DataType.UINT8, tensorDims(weight), wq.data));
    graph.addInitializer(makeTensor(wzName, DataType.UINT8, [], new Uint8Array([wq.zeroPoint])));
    graph.addInitializer(makeTensor(wsName, DataType.FLOAT, [], new Float32Array([wq.scale])));
    const xq = quantizeInput(x);
    const integerOp = node.opType === 'Conv' ? 'ConvInteger' : 'MatMulInteger';
    const attrs = node.opType === 'Conv' ? Object.fromEntries((node.attribute ?? []).map((a) => [a.name!, a])) : {};
    const acc = graph.uniqueName(`${out}_int32`);
    const accFloat = graph.uniqueName(`${out}_int32_float`);
    const scale = graph.uniqueName(`${out}_rescale`);
    const scaled = b ? graph.uniqueName(`${out}_scaled`) : out;
    const added: NodeProto[] = [
      makeNode(integerOp, [xq.q, wqName, xq.zp, wzName], [acc], attrs, `${base}_${integerOp}`),
      makeNode('Cast', [acc], [accFloat], { to: attr.int(DataType.FLOAT) }, `${base}_Cast`),
      makeNode('Mul', [xq.scale, wsName], [scale], {}, `${base}_scale_product`),
      makeNode('Mul', [accFloat, scale], [scaled], {}, `${base}_rescale`),
    ];
    if (b) {
      // Conv bias is [C]; broadcast over NCHW as [C,1,1].
      const bias = graph.initializer(b);
      if (node.opType === 'Conv' && bias) {
        const reshaped = graph.uniqueName(`${b}_broadcast`);
        graph.addInitializer(makeTensor(reshaped, DataType.FLOAT, [tensorDims(bias)[0]!, 1, 1], tensorToFloat32(bias)));
        added.push(makeNode('Add', [scaled, reshaped], [out], {}, `${base}_bias`));
      } else {
        added.push(makeNode('Add', [scaled, b], [out], {}, `${base}_bias`));
      }
    }
    graph.removeNode(node);
    added.forEach((n) => graph.addNode(n));
    quantizedNodes.push(base);
  }
  if (quantizedNodes.length === 0) throw new QuantizeError(`${name} has no Conv or MatMul with float weights to quantize dynamically`);
  graph.removeUnused();
  graph.sort();
  setMetadata(model, 'srq.version', SRQ_VERSION);
  setMetadata(model, 'srq.quantization', 'int8-dynamic');
  return { model, quantizedNodes, ...(opsetUpgrade ? { opsetUpgrade } : {}) };
}
