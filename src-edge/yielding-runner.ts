// onnxruntime-web's wasm runs on the calling thread and its run() settles through microtasks only, so a tiled
// upscale would hold the event loop for the whole image: no health probe, 429 or other request could be
// answered meanwhile. This wrapper gives the event loop one turn (a timer) before each tile. Runtime-agnostic.
import type { Runner } from '../src-core/runtime/runner.ts';

const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export function yieldBetweenRuns(runner: Runner): Runner {
  return {
    runtime: runner.runtime,
    inputName: runner.inputName,
    outputName: runner.outputName,
    outputNames: runner.outputNames,
    async run(input, dims) {
      await turn();
      return runner.run(input, dims);
    },
    async runOutputs(input, dims, names, extra) {
      await turn();
      return runner.runOutputs(input, dims, names, extra);
    },
    release: () => runner.release(),
  };
}
