// Runner on native onnxruntime-node (CPU EP). Node only: the native addon cannot load elsewhere.
import * as ort from 'onnxruntime-node';
import { checkRunnerOptions, type Runner, type RunnerOptions } from './runner.ts';
import { sessionRunner, type OrtSessionLike, type OrtTensorCtor } from './session-runner.ts';

export async function createNodeRunner(model: Uint8Array, opts: RunnerOptions = {}): Promise<Runner> {
  checkRunnerOptions(opts);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: opts.executionProviders ?? ['cpu'],
    // 0 lets ORT pick one thread per physical core.
    intraOpNumThreads: opts.threads ?? 0,
    // SR nets are one long chain of convs: inter-op parallelism only adds contention.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
    enableCpuMemArena: opts.memoryArena ?? true,
    // Warnings (e.g. about unused initializers) are for model authors, not for srq's users.
    logSeverityLevel: 3,
    ...(opts.optimizedModelFilePath ? { optimizedModelFilePath: opts.optimizedModelFilePath } : {}),
  });
  return sessionRunner('node', session as unknown as OrtSessionLike, ort.Tensor as unknown as OrtTensorCtor);
}
