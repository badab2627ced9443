// Where the bundled Action's onnxruntime-node loads its native addon from. scripts/bundle-action.mjs rewrites the
// package's binding.js to `require(globalThis.__srqOrtNodeBinding)` (its own copy of the name: a build script), so
// the addon the Action unpacked is set here before onnxruntime-node is first imported, in the Action's process and
// in its child processes (through the environment).

const BINDING_GLOBAL = '__srqOrtNodeBinding';
const BINDING_ENV = 'SRQ_ORT_NODE_BINDING';

/** Loads onnxruntime-node from `addon` in this process and in the child processes it starts. */
export function useOrtBinding(addon: string): void {
  (globalThis as Record<string, unknown>)[BINDING_GLOBAL] = addon;
  process.env[BINDING_ENV] = addon;
}

/** In a child process: the addon its parent chose, if any. */
export function inheritOrtBinding(): void {
  const addon = process.env[BINDING_ENV];
  if (addon) (globalThis as Record<string, unknown>)[BINDING_GLOBAL] = addon;
}
