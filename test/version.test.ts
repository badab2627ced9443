// One version: package.json's. src-core/version.ts (stamped into every model, report and cache key) must equal it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SRQ_VERSION } from '../src-core/version.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

describe('srq version', () => {
  it('SRQ_VERSION is package.json\'s version', () => {
    expect(SRQ_VERSION).toBe(pkg.version);
  });
});
