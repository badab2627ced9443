// servedForm when the row-strip split itself fails: the file as quantized is served with its own measure and the
// reason, never an error that would cost the job its memory measure. The failure is injected (no model measured
// here makes the split fail).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { servedForm } from '../src-core/runtime/served-form.node.ts';
import { srq } from './helpers/cli.ts';

vi.mock('../src-core/quantize/row-strips.ts', async (original) => ({
  ...(await original<typeof import('../src-core/quantize/row-strips.ts')>()),
  splitConvRows: () => {
    throw new Error('injected split failure');
  },
}));

const task = new URL('../build/src-core/runtime/wasm-memory-task.node.js', import.meta.url);

describe('served form', () => {
  it('serves the file as quantized, measured, with the reason, when the split fails', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'srq-served-')), 'slim.int8.onnx');
    const r = srq(['quantize', 'models/esrgan-slim-x4.onnx', '-o', out, '--calib-tiles', '2', '--tile', '32', '--calib', 'images/chelsea.png']);
    expect(r.code, r.stderr).toBe(0);
    const bytes = readFileSync(out);
    const served = await servedForm(bytes, { task });
    expect(served.bytes).toBe(bytes);
    expect(served.rowStrips).toEqual([]);
    // slim as quantized: 2004 B a window pixel on onnxruntime-web (row-strips.test.ts).
    expect(served.memory.bytesPerPixel).toBeGreaterThan(1800);
    expect(served.before).toBe(served.memory);
    expect(served.refused).toMatch(/^row strips failed \(injected split failure\) \(a bug in srq: src-core\/quantize\/row-strips\.ts\); the file is served as quantized$/);
  });
});
