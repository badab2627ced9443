// Picks a runner by name. Node only (it may load onnxruntime-node, which no edge runtime can).
// Each binding is imported lazily so that asking for 'web' never loads the native addon.
import { RunnerOptionsError, type Runner, type RunnerOptions } from './runner.ts';

export type RuntimeName = Runner['runtime'];

export async function createRunner(runtime: RuntimeName, model: Uint8Array, opts: RunnerOptions = {}): Promise<Runner> {
  if (runtime === 'node') return (await import('./ort-node.ts')).createNodeRunner(model, opts);
  if (runtime === 'web') return (await import('./ort-web.ts')).createWebRunner(model, opts);
  throw new RunnerOptionsError(`unknown runtime '${String(runtime)}'; use 'node' or 'web'`);
}
