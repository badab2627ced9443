#!/usr/bin/env node
// `npm run bench:part-runs -- <fp32.onnx> [int8.onnx]`: what cutting a part's session after the tensors it reads
// (src-core/onnx/keep-only.ts) saves. onnxruntime runs every node of a session whatever a run fetches, so a pass that
// reads a deep model part by part ran it whole once per part. One 128² run per part, ORT-node with 2 threads, the
// whole model with the part's tensors as extra outputs against the copy cut after them: GPTQ's parts on the FP32 model
// (each conv's input, 32 a part) and, given a static INT8 (QDQ) file, bias correction's (each quantized conv's float
// and quantized input, 48 convs a part).
import { existsSync, readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { keepOnlyOutputs } from '../build/src-core/onnx/keep-only.js';
import { cloneModel, decodeModel, encodeModel } from '../build/src-core/onnx/model.js';

const [fp32, int8] = process.argv.slice(2);
if (!fp32 || !existsSync(fp32) || (int8 && !existsSync(int8))) {
  console.error('usage: npm run bench:part-runs -- <fp32.onnx> [int8.onnx] (files that exist)');
  process.exit(2);
}

async function oneRun(model, names) {
  const session = await ort.InferenceSession.create(encodeModel(model), { intraOpNumThreads: 2, enableMemPattern: false, logSeverityLevel: 3 });
  try {
    const input = new ort.Tensor('float32', new Float32Array(3 * 128 * 128).fill(0.5), [1, 3, 128, 128]);
    const started = performance.now();
    await session.run({ [session.inputNames[0]]: input }, names);
    return performance.now() - started;
  } finally {
    await session.release();
  }
}

async function compare(label, model, parts) {
  let whole = 0;
  let cut = 0;
  for (const part of parts) {
    const all = cloneModel(model);
    for (const t of part) all.graph.output.push({ name: t, type: { tensorType: { elemType: 1 } } });
    const only = cloneModel(model);
    keepOnlyOutputs(only.graph, part);
    whole += await oneRun(all, part);
    cut += await oneRun(only, part);
  }
  console.log(`${label}: ${parts.length} parts, one 128² tile through each: whole ${(whole / 1000).toFixed(1)} s → cut ${(cut / 1000).toFixed(1)} s (${(cut / whole).toFixed(2)})`);
}

const chunks = (list, n) => Array.from({ length: Math.ceil(list.length / n) }, (_, i) => list.slice(i * n, (i + 1) * n));

const float = decodeModel(readFileSync(fp32));
const imageInput = float.graph.input[0].name;
const convInputs = [...new Set(float.graph.node.filter((n) => n.opType === 'Conv').map((n) => n.input[0]))].filter((t) => t !== imageInput);
await compare(`GPTQ (${fp32})`, float, chunks(convInputs, 32));

if (int8) {
  const qdq = decodeModel(readFileSync(int8));
  const producer = new Map(qdq.graph.node.flatMap((n) => n.output.map((o) => [o, n])));
  const reads = qdq.graph.node
    .filter((n) => n.opType === 'Conv' && producer.get(n.input[0])?.opType === 'DequantizeLinear')
    .map((n) => [n.input[0], producer.get(producer.get(n.input[0]).input[0])?.input[0]].filter((t) => t && t !== imageInput));
  await compare(`bias correction (${int8})`, qdq, chunks(reads, 48).map((part) => [...new Set(part.flat())]));
}
