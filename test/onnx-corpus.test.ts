// Robustness corpus: every model of the ONNX project's own test data (Debian package libonnx-testdata,
// installed by .ci/run) must parse; each one ORT can load must still load after a decode/encode round trip
// and, fed its test_data_set_0 inputs, give byte-identical outputs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { decodeModel, decodeTensor, encodeModel, tensorDims, tensorToArray } from '../src-core/onnx/index.ts';
import { requiresSystemPackage } from './helpers/system-packages.ts';

const corpusRoot = '/usr/share/libonnx-testdata/data';
const corpus = requiresSystemPackage('libonnx-testdata', corpusRoot, 'the ONNX corpus test');

function findModels(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findModels(p));
    else if (entry.name.endsWith('.onnx')) found.push(p);
  }
  return found.sort();
}

const ortTypes: Record<number, ort.Tensor.Type> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64',
};

/** The test inputs as ORT tensors, or undefined when one is not a plain tensor we can build. */
function loadInputs(modelPath: string, inputNames: readonly string[]): Record<string, ort.Tensor> | undefined {
  const dataDir = join(dirname(modelPath), 'test_data_set_0');
  if (!existsSync(dataDir)) return undefined;
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < inputNames.length; i++) {
    const file = join(dataDir, `input_${i}.pb`);
    if (!existsSync(file)) return undefined;
    try {
      const t = decodeTensor(readFileSync(file));
      const type = ortTypes[t.dataType ?? 0];
      if (!type) return undefined;
      let data = tensorToArray(t) as ort.Tensor.DataType;
      if (type === 'bool') data = Uint8Array.from(data as Uint8Array) as never;
      feeds[inputNames[i]!] = new ort.Tensor(type, data as never, tensorDims(t));
    } catch {
      return undefined;
    }
  }
  return feeds;
}

async function tryLoad(bytes: Uint8Array): Promise<ort.InferenceSession | undefined> {
  try {
    return await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', logSeverityLevel: 4 });
  } catch {
    return undefined;
  }
}

async function outputsOf(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<Uint8Array[] | undefined> {
  try {
    const out = await session.run(feeds);
    return session.outputNames.map((n) => {
      const d = out[n]!.data as ArrayBufferView | string[];
      return ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice() : new TextEncoder().encode(JSON.stringify(d));
    });
  } catch {
    return undefined;
  }
}

corpus.describe('libonnx-testdata corpus', () => {
  it('parses every model, and round-trips those ORT loads into models with identical outputs', async () => {
    const models = findModels(corpusRoot);
    expect(models.length).toBeGreaterThan(1000);
    let loaded = 0;
    let compared = 0;
    const failures: string[] = [];
    for (const path of models) {
      const bytes = readFileSync(path);
      const model = decodeModel(bytes, path);
      const original = await tryLoad(bytes);
      if (!original) continue;
      loaded++;
      const again = await tryLoad(encodeModel(model));
      if (!again) {
        failures.push(`${path}: ORT loads the original but not the re-serialised model`);
        await original.release();
        continue;
      }
      const feeds = loadInputs(path, original.inputNames);
      if (feeds) {
        const a = await outputsOf(original, feeds);
        const b = a && (await outputsOf(again, feeds));
        if (a && b) {
          compared++;
          if (a.some((x, i) => Buffer.compare(x, b[i]!) !== 0)) failures.push(`${path}: outputs differ after the round trip`);
        }
      }
      await original.release();
      await again.release();
    }
    console.log(`corpus: ${models.length} models parsed, ${loaded} loaded by ORT, ${compared} compared output for output`);
    expect(failures).toEqual([]);
    expect(loaded).toBeGreaterThan(800);
    expect(compared).toBeGreaterThan(600);
  }, 600_000);
});
