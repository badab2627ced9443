// Runner on native onnxruntime-node (CPU EP). Node only: the native addon cannot load elsewhere.
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { checkRunnerOptions, type Runner, type RunnerOptions } from './runner.ts';
import { sessionRunner, type OrtSessionLike, type OrtTensorCtor } from './session-runner.ts';

export async function createNodeRunner(model: Uint8Array, opts: RunnerOptions = {}): Promise<Runner> {
  checkRunnerOptions(opts);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: opts.executionProviders ?? ['cpu'],
    // Every core the process may use. ORT's own default (0, "one per physical core") ran one thread on a 2-core
    // machine: Real-ESRGAN x4plus, 128² tile, 3.6 s at 0 and at 1 thread, 2.0 s at 2.
    intraOpNumThreads: opts.threads ?? availableParallelism(),
    // SR nets are one long chain of convs: inter-op parallelism only adds contention.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
    // The arena always; the pattern unless the caller's runs return many tensors or change shape (RunnerOptions).
    enableCpuMemArena: true,
    enableMemPattern: opts.memoryPattern ?? true,
    // Warnings (e.g. about unused initializers) are for model authors, not for srq's users.
    logSeverityLevel: 3,
    ...(opts.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    ...(opts.optimizedModelFilePath ? { optimizedModelFilePath: opts.optimizedModelFilePath } : {}),
  });
  return sessionRunner('node', session as unknown as OrtSessionLike, ort.Tensor as unknown as OrtTensorCtor);
}
