// One version: package.json's. src-core/version.ts (stamped into every model, report and cache key, and printed
// by srq --version) must equal it, package-lock.json too, and CHANGELOG.md must have its entry (RELEASING.md).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SRQ_VERSION } from '../src-core/version.ts';

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json')) as { version: string };

describe('srq version', () => {
  it('SRQ_VERSION is package.json\'s version', () => {
    expect(SRQ_VERSION).toBe(pkg.version);
  });

  it('package-lock.json records the same version', () => {
    const lock = JSON.parse(read('package-lock.json')) as { version: string; packages: Record<string, { version?: string }> };
    expect(lock.version).toBe(pkg.version);
    expect(lock.packages['']!.version).toBe(pkg.version);
  });

  it('CHANGELOG.md has an Unreleased section on top and an entry for this version', () => {
    const headings = [...read('CHANGELOG.md').matchAll(/^## \[([^\]]+)\]/gm)].map((m) => m[1]);
    expect(headings[0]).toBe('Unreleased');
    expect(headings).toContain(pkg.version);
  });

  // .npmrc sets onnxruntime-node's install switch, a key npm does not know; without loglevel=error every
  // npx call here printed "npm warn Unknown project config".
  it('npx srq --version prints the version and nothing on stderr (no npm warnings)', () => {
    const r = spawnSync('npx', ['srq', '--version'], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
    expect(r.stderr).toBe('');
  });
});
