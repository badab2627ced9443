// Writing outputs safely: never over the input, never a half-written file.
import { renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './errors.ts';

/** Refuse an output path that names one of the inputs (checked before any work, and again when writing). */
export function checkOutputPath(path: string, inputs: readonly string[]): void {
  const target = resolve(path);
  if (inputs.some((i) => resolve(i) === target)) throw new UsageError(`-o ${path} is also an input; choose another output file`);
}

/** Write via a temporary file and rename, so an interrupted run leaves no truncated output. */
export function writeOutput(path: string, data: Uint8Array | string, inputs: readonly string[] = []): void {
  checkOutputPath(path, inputs);
  const target = resolve(path);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = `${target}.srq-tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, target);
}

/** Progress on stderr for long jobs: rewrites one line on a terminal, prints every `every`-th step otherwise. */
export function progressReporter(enabled = true): (message: string) => void {
  if (!enabled) return () => {};
  const tty = process.stderr.isTTY;
  let last = 0;
  return (message: string) => {
    const now = Date.now();
    if (tty) process.stderr.write(`\r\x1b[K${message}`);
    else if (now - last > 2000) {
      process.stderr.write(`${message}\n`);
      last = now;
    }
  };
}

export function endProgress(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}
