// The srq command itself: --version, help for every command, and usage mistakes on stderr with exit 2.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { srq } from './helpers/cli.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

describe('srq', () => {
  it('--version prints package.json\'s version', () => {
    const r = srq(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('--help lists the commands on stdout; help <command> is <command> --help for each', () => {
    const r = srq(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const commands = [...r.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]!);
    expect(commands).toEqual(expect.arrayContaining(['info', 'quantize', 'upscale', 'import', 'validate', 'bench', 'run']));
    for (const c of commands) {
      const viaHelp = srq(['help', c]);
      const viaFlag = srq([c, '--help']);
      expect(viaHelp.code, c).toBe(0);
      expect(viaHelp.stdout, c).toMatch(new RegExp(`^usage: srq ${c} `));
      expect(viaHelp).toEqual(viaFlag);
    }
  });

  it('puts usage mistakes on stderr, with exit 2 and nothing on stdout', () => {
    for (const args of [[], ['nope'], ['help', 'nope'], ['info'], ['quantize', 'models/esrgan-slim-x2.onnx', '--fast']]) {
      const r = srq(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toMatch(/^srq: /);
    }
  });
});
