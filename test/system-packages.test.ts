// The one way a test skips for want of a Debian package, and the switch (.ci/run's) that makes that a failure.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requiresSystemPackage } from './helpers/system-packages.ts';

describe('requiresSystemPackage', () => {
  const saved = process.env.SRQ_REQUIRE_SYSTEM_PACKAGES;
  afterEach(() => {
    if (saved === undefined) delete process.env.SRQ_REQUIRE_SYSTEM_PACKAGES;
    else process.env.SRQ_REQUIRE_SYSTEM_PACKAGES = saved;
    vi.restoreAllMocks();
  });

  it('finds a package by the first of its files that exists', () => {
    const sh = requiresSystemPackage('dash', ['/nonexistent/srq/sh', '/bin/sh']);
    expect(sh).toMatchObject({ pkg: 'dash', path: '/bin/sh', available: true });
  });

  it('names the package once on a missing one, and skips', () => {
    delete process.env.SRQ_REQUIRE_SYSTEM_PACKAGES;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const a = requiresSystemPackage('srq-test-missing', '/nonexistent/srq/a', 'the x test');
    requiresSystemPackage('srq-test-missing', '/nonexistent/srq/a', 'the x test');
    expect(a.available).toBe(false);
    expect(a.path).toBeUndefined();
    expect(warn.mock.calls).toEqual([['skipped: the x test needs the Debian package srq-test-missing (/nonexistent/srq/a is missing): apt-get install srq-test-missing']]);
  });

  it('fails instead when SRQ_REQUIRE_SYSTEM_PACKAGES=1', () => {
    process.env.SRQ_REQUIRE_SYSTEM_PACKAGES = '1';
    expect(() => requiresSystemPackage('srq-test-required', '/nonexistent/srq/b', 'the y test')).toThrow(
      'SRQ_REQUIRE_SYSTEM_PACKAGES is set and the y test needs the Debian package srq-test-required (/nonexistent/srq/b is missing): apt-get install srq-test-required',
    );
  });
});
