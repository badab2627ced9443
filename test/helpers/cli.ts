// Run the real `srq` binary (bin/srq.js over the compiled build/, which `npm test` rebuilds first).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/srq.js', import.meta.url));

export interface CliResult { code: number; stdout: string; stderr: string }

export function srq(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: opts.cwd, encoding: 'utf8', timeout: opts.timeoutMs ?? 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** One clear `srq: ...` line (progress lines may precede it), and no stack trace. */
export function expectOneLineError(r: CliResult): string {
  if (r.code === 0) throw new Error(`expected failure, got exit 0; stdout: ${r.stdout}`);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('srq: '));
  if (errors.length !== 1 || /^\s+at /m.test(r.stderr)) throw new Error(`expected one "srq: ..." line on stderr, got:\n${r.stderr}`);
  return errors[0]!;
}
