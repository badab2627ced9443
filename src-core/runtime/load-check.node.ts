// Node only: prove that a model srq is about to write loads and runs in onnxruntime-node (CPU), before it is
// written. A session is created from the bytes (ORT's schema and type checks, graph optimizations) and one tiny
// inference runs (kernels are only resolved and run then), so a file that ORT would refuse never reaches disk.
import * as ort from 'onnxruntime-node';
import { valueInfoShape } from '../onnx/build.ts';
import { Graph } from '../onnx/graph.ts';
import { decodeModel } from '../onnx/model.ts';
import { DataType, dataTypeName } from '../onnx/tensor.ts';

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
  /** True when the model it was made from does not load either (an input problem, not srq's). */
  inputFails = false;
}

export interface LoadCheckOptions {
  /** What the model is called in the message, e.g. the output path. */
  name: string;
  /** What the user should do if it fails (one sentence); default: report it as an srq bug. */
  advice?: string;
  /** Spatial size of the test input's free dimensions (default 16; 64 is tried too if 16 fails to run). */
  size?: number;
  /**
   * The model this one was made from: on failure it is checked too, and if it fails as well the message says
   * so (fix or re-export the input) instead of giving `advice`.
   */
  source?: { bytes: Uint8Array; name: string };
}

export interface LoadCheckResult {
  /** Input dims of the test inference, by input name. */
  inputs: Record<string, number[]>;
  /** Output dims, by output name. */
  outputs: Record<string, number[]>;
}

const ORT_VERSION = (ort.env as { versions?: { node?: string } }).versions?.node ?? '1.30';

/** ORT's message on one line, without its file/line prefixes. */
export function ortMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/\[ONNXRuntimeError\] : \d+ : \w+ : /g, '').replace(/\s+/g, ' ').trim().slice(0, 400);
}

type Feed = Record<string, ort.Tensor>;

/** A test input for every graph input: free dims become 1 (batch), 3 (channels) or `size` (spatial). */
function testFeeds(bytes: Uint8Array, size: number): Feed {
  const graph = new Graph(decodeModel(bytes).graph!);
  const feeds: Feed = {};
  for (const v of graph.inputs) {
    const shape = valueInfoShape(v) ?? [];
    const dims = shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 1 : i === 1 && shape.length === 4 ? 3 : size));
    const n = dims.reduce((a, b) => a * b, 1);
    const type = v.type?.tensorType?.elemType ?? DataType.FLOAT;
    // Mid-grey with a gentle ramp: in range for image models, not constant (constant inputs hide nothing, but
    // a ramp also exercises every position).
    const value = (i: number) => 0.25 + 0.5 * ((i % 97) / 96);
    switch (type) {
      case DataType.FLOAT: feeds[v.name!] = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => value(i)), dims); break;
      case DataType.FLOAT16: feeds[v.name!] = new ort.Tensor('float16', new Uint16Array(n).fill(0x3800), dims); break;
      case DataType.INT64: feeds[v.name!] = new ort.Tensor('int64', new BigInt64Array(n), dims); break;
      case DataType.INT32: feeds[v.name!] = new ort.Tensor('int32', new Int32Array(n), dims); break;
      case DataType.UINT8: feeds[v.name!] = new ort.Tensor('uint8', new Uint8Array(n).fill(128), dims); break;
      default: throw new ModelLoadError(`input ${v.name} is ${dataTypeName[type] ?? type}, which the load check cannot feed`);
    }
  }
  return feeds;
}

async function runOnce(session: ort.InferenceSession, bytes: Uint8Array, size: number): Promise<LoadCheckResult> {
  const feeds = testFeeds(bytes, size);
  const results = await session.run(feeds);
  const outputs: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(results)) {
    outputs[name] = [...t.dims];
    if (t.type === 'float32') {
      const data = t.data as Float32Array;
      const bad = data.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new ModelLoadError(`output ${name} holds non-finite values (${data[bad]} at ${bad}) on a mid-grey test input`);
    }
  }
  return { inputs: Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, [...t.dims]])), outputs };
}

/**
 * Create an onnxruntime-node session from `bytes` and run one small inference; throw ModelLoadError (one line:
 * the name, ORT's message, what to do) if either fails.
 */
export async function checkModelLoads(bytes: Uint8Array, opts: LoadCheckOptions): Promise<LoadCheckResult> {
  const size = opts.size ?? 16;
  const outcome = await loadAndRun(bytes, size);
  if (!('failure' in outcome)) return outcome;
  const what = `${opts.name} would not ${outcome.failure.stage} in onnxruntime-node ${ORT_VERSION} (${outcome.failure.message}), so it was not written`;
  const source = opts.source ? await loadAndRun(opts.source.bytes, size) : undefined;
  if (source && 'failure' in source) {
    const error = new ModelLoadError(`${what}; the input ${opts.source!.name} does not ${source.failure.stage} in onnxruntime-node either (${source.failure.message}): fix or re-export it`);
    error.inputFails = true;
    throw error;
  }
  throw new ModelLoadError(`${what}; ${opts.advice ?? 'this is an srq bug: please report it with the input model'}`);
}

type Outcome = LoadCheckResult | { failure: { stage: 'load' | 'run'; message: string } };

async function loadAndRun(bytes: Uint8Array, size: number): Promise<Outcome> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  } catch (e) {
    return { failure: { stage: 'load', message: ortMessage(e) } };
  }
  try {
    return await runOnce(session, bytes, size);
  } catch (first) {
    // Some nets need a larger input (deep downsampling); a model that runs at 64 is fine.
    if (size < 64) {
      try {
        return await runOnce(session, bytes, 64);
      } catch {
        // report the first failure
      }
    }
    return { failure: { stage: 'run', message: ortMessage(first) } };
  } finally {
    await session.release();
  }
}
