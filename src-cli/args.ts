// Flag parsing on node:util parseArgs, with errors that say which flag was wrong.
import { parseArgs } from 'node:util';
import { UsageError } from './errors.ts';

type FlagSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };
type FlagValues<O extends Record<string, FlagSpec>> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : O[K]['multiple'] extends true ? string[] : string;
};

export function parse<O extends Record<string, FlagSpec>>(
  command: string,
  argv: string[],
  options: O,
): { values: FlagValues<O> & { help?: boolean }; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as FlagValues<O> & { help?: boolean }, positionals };
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message.replace(/\. To specify.*$/s, '')} (see srq ${command} --help)`);
  }
}

/** A flag's value as a whole number ≥ min, or the fallback when absent. */
export function intFlag(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}, got "${value}"`);
  return n;
}

export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}
