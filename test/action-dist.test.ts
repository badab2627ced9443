// dist/ is what GitHub runs, committed: it must be exactly what `npm run bundle` makes from the sources and
// node_modules now. Rebuild into a temporary folder (reusing dist's compressed ORT files only where they still
// decompress to node_modules' files) and compare every file. Also: action.yml and the code agree on the inputs
// and outputs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './fixtures/action/runner.ts';

const dist = join(repoRoot, 'dist');

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => f.split('\\').join('/'))
    .sort();
}

describe('dist/', () => {
  const out = mkdtempSync(join(tmpdir(), 'srq-dist-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('is what npm run bundle makes from the current sources (else: npm run bundle, and commit dist/)', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'bundle-action.mjs'), '--out', out, '--seed', dist, '--no-compress'], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(listFiles(dist)).toEqual(listFiles(out));
    const stale = listFiles(out).filter((f) => !readFileSync(join(out, f)).equals(readFileSync(join(dist, f))));
    expect(stale, `dist/ differs from a fresh bundle in ${stale.join(', ')}: run npm run bundle and commit dist/`).toEqual([]);
  });

  it('stays lean: the bundle and the compressed runtimes only', () => {
    const files = listFiles(dist);
    expect(files).toEqual([
      'index.js',
      'native-memory-task.node.js',
      'ort/assets.json',
      'ort/linux-x64/libonnxruntime.so.1.br',
      'ort/linux-x64/onnxruntime_binding.node.br',
      'ort/wasm/ort-wasm-simd-threaded.mjs.br',
      'ort/wasm/ort-wasm-simd-threaded.wasm.br',
      'wasm-memory-task.node.js',
    ]);
    const bytes = files.reduce((n, f) => n + statSync(join(dist, f)).size, 0);
    expect(bytes).toBeLessThan(20e6);
  });
});

describe('action.yml', () => {
  const yml = readFileSync(join(repoRoot, 'action.yml'), 'utf8');
  const section = (name: string) => {
    const body = yml.split(new RegExp(`^${name}:\\n`, 'm'))[1]!.split(/^\S/m)[0]!;
    return [...body.matchAll(/^ {2}([a-z0-9-]+):/gm)].map((m) => m[1]!).sort();
  };
  const source = (file: string) => readFileSync(join(repoRoot, 'src-action', file), 'utf8');

  it('runs dist/index.js on node24', () => {
    expect(yml).toMatch(/^runs:\n {2}using: node24\n {2}main: dist\/index\.js\n/m);
  });

  it('declares exactly the inputs the Action reads', () => {
    const read = [...source('inputs.ts').matchAll(/(?:text|bool|getInput)\('([a-z0-9-]+)'/g)].map((m) => m[1]!);
    expect([...new Set(read)].sort()).toEqual(section('inputs'));
  });

  it('declares exactly the outputs the Action sets', () => {
    const set = [...source('main.ts').matchAll(/setOutput\('([a-z0-9-]+)'/g)].map((m) => m[1]!);
    expect([...new Set(set)].sort()).toEqual(section('outputs'));
  });

  it('documents a default for every optional input, the model glob alone being required', () => {
    const inputs = yml.split(/^inputs:\n/m)[1]!.split(/^outputs:/m)[0]!;
    const blocks = inputs.split(/^(?= {2}[a-z])/m).filter((b) => b.trim());
    for (const block of blocks) {
      const name = block.trim().split(':')[0]!;
      if (name === 'models') expect(block).toContain('required: true');
      else expect(block, name).toMatch(/\n {4}default: /);
    }
  });
});
