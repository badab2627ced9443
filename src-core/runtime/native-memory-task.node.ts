// Child process of native-memory.node.ts: loads a model on onnxruntime-node as the edge does (native-engine.node.ts:
// its arena, no memory pattern), runs one window per side given, and prints the process's peak RSS before the
// session, after it and after each run. argv: model path, then window sides. Prints one JSON line: { before, loaded,
// peaks } in bytes. Loads the addon its parent chose (ort-binding.node.ts: the bundled Action's unpacked one).
import { readFileSync } from 'node:fs';
import { inheritOrtBinding } from './ort-binding.node.ts';
import { peakResidentBytes } from './peak-rss.node.ts';

const [file, ...sides] = process.argv.slice(2);
const peak = peakResidentBytes;
try {
  // Before onnxruntime-node loads: the bundle's patched binding.js requires the addon named there.
  inheritOrtBinding();
  const { createNodeRunner } = await import('./ort-node.ts');
  const model = readFileSync(file!);
  const before = peak();
  // As the edge runs it: its own arena, no memory pattern (windows change shape per request).
  const runner = await createNodeRunner(model, { threads: 1, memoryPattern: false });
  const loaded = peak();
  const peaks: number[] = [];
  for (const side of sides.map(Number)) {
    // A served session's arena keeps growing for its first few requests (a mix of sizes reuses its blocks badly):
    // esrgan-slim-x8 at 385² took 512 MB after one run, 643 MB from the third on. So the side runs three times,
    // a half-side window between, and the peak is read after the last.
    const half = Math.max(1, Math.round(side / 2));
    for (const s of [side, half, side, half, side]) await runner.run(new Float32Array(3 * s * s).fill(0.5), [1, 3, s, s]);
    peaks.push(peak());
  }
  await runner.release();
  console.log(JSON.stringify({ before, loaded, peaks }));
} catch (error) {
  console.log(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
  process.exitCode = 1;
}
