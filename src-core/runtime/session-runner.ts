// Wraps an ORT InferenceSession (node or web build; both share onnxruntime-common's API) as a Runner.
// Structural types only, so this file imports neither ORT package and runs on every runtime.
import {
  RunnerInputError,
  RunnerOutputError,
  RunnerReleasedError,
  checkInputShape,
  type ExtraInputs,
  type Runner,
  type RunnerOutput,
} from './runner.ts';

export interface OrtTensorLike {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
  dispose?(): void;
}

export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensorLike>, fetches: readonly string[]): Promise<Record<string, OrtTensorLike>>;
  release(): Promise<void>;
}

export type OrtTensorCtor = new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensorLike;

export function sessionRunner(runtime: Runner['runtime'], session: OrtSessionLike, Tensor: OrtTensorCtor): Runner {
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  if (inputName === undefined || outputName === undefined) {
    throw new RunnerInputError('model has no graph input or no graph output; an srq model needs one of each');
  }
  let released = false;
  // ORT-web rejects a second run() on a session while one is in flight; serialise runs on both
  // runtimes so callers (e.g. concurrent HTTP requests) never have to care.
  let queue: Promise<unknown> = Promise.resolve();

  function checkLive(): void {
    if (released) throw new RunnerReleasedError('runner was released; create a new runner to run the model again');
  }

  async function runNow(input: Float32Array, dims: readonly number[], names: readonly string[], extra: ExtraInputs = {}) {
    const feeds: Record<string, OrtTensorLike> = { [inputName!]: new Tensor('float32', input, dims) };
    for (const [name, value] of Object.entries(extra)) {
      if (!session.inputNames.includes(name)) throw new RunnerInputError(`'${name}' is not a graph input of this model (inputs: ${session.inputNames.join(', ')})`);
      feeds[name] = new Tensor('float32', value.data, value.dims);
    }
    const results = await session.run(feeds, names);
    const out: Record<string, RunnerOutput> = {};
    for (const name of names) {
      const t = results[name];
      if (!t) throw new RunnerOutputError(`ORT returned no value for output '${name}'`);
      if (t.type !== 'float32' || !(t.data instanceof Float32Array)) {
        throw new RunnerOutputError(
          `output '${name}' is ${t.type}, not float32; srq runners read float32 outputs only (cast in the graph)`,
        );
      }
      out[name] = { data: t.data, dims: t.dims.map(Number) };
    }
    return out;
  }

  function enqueue<T>(job: () => Promise<T>): Promise<T> {
    const next = queue.then(job, job);
    queue = next.catch(() => undefined);
    return next;
  }

  function checkNames(names: readonly string[]): void {
    if (names.length === 0) throw new RunnerInputError('runOutputs needs at least one output name');
    for (const name of names) {
      if (!session.outputNames.includes(name)) {
        throw new RunnerInputError(
          `'${name}' is not a graph output of this model (outputs: ${session.outputNames.join(', ')}); ` +
            'add it to graph.output before creating the runner',
        );
      }
    }
  }

  return {
    runtime,
    inputName,
    outputName,
    outputNames: [...session.outputNames],
    async run(input, dims) {
      checkLive();
      checkInputShape(input, dims);
      const out = await enqueue(() => runNow(input, dims, [outputName]));
      return out[outputName]!;
    },
    async runOutputs(input, dims, names, extra) {
      checkLive();
      checkInputShape(input, dims);
      checkNames(names);
      return enqueue(() => runNow(input, dims, names, extra));
    },
    async release() {
      if (released) return;
      released = true;
      // Let queued runs finish (they were accepted before release) before freeing native memory.
      await enqueue(async () => undefined);
      await session.release();
    },
  };
}
