// Tests that need a Debian package (a browser, a data set, a network tool) go through here, so that a fresh
// `npm ci && npm test` without them skips those tests the same way: with one line that names the package.
// .ci/run installs every package and sets SRQ_REQUIRE_SYSTEM_PACKAGES=1; then a missing one fails instead.
import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';

export interface SystemPackage {
  /** The Debian package, as `apt-get install` takes it. */
  readonly pkg: string;
  /** The first of the given paths that exists; undefined when none does. */
  readonly path: string | undefined;
  readonly available: boolean;
  /** `describe`, skipped (with the line printed once) when the package is missing. */
  readonly describe: ReturnType<typeof describe.skipIf>;
  /** `it`, skipped (with the line printed once) when the package is missing. */
  readonly it: ReturnType<typeof it.skipIf>;
}

const warned = new Set<string>();

/** True when SRQ_REQUIRE_SYSTEM_PACKAGES asks for every system package to be there (.ci/run sets it). */
export function systemPackagesRequired(): boolean {
  return /^(1|true|yes)$/i.test(process.env.SRQ_REQUIRE_SYSTEM_PACKAGES ?? '');
}

/**
 * Looks for `pkg` by the file(s) it installs. Missing: prints "skipped: needs the Debian package …" once and
 * returns skipping `describe`/`it`; with SRQ_REQUIRE_SYSTEM_PACKAGES=1 it throws instead, failing the file.
 * `what` says what is skipped (the default: "these tests").
 */
export function requiresSystemPackage(pkg: string, paths: string | readonly string[], what = 'these tests'): SystemPackage {
  const candidates = typeof paths === 'string' ? [paths] : paths;
  const path = candidates.find((p) => existsSync(p));
  const available = path !== undefined;
  if (!available) {
    const line = `needs the Debian package ${pkg} (${candidates.join(' or ')} is missing): apt-get install ${pkg}`;
    if (systemPackagesRequired()) throw new Error(`SRQ_REQUIRE_SYSTEM_PACKAGES is set and ${what} ${line}`);
    if (!warned.has(pkg)) {
      warned.add(pkg);
      console.warn(`skipped: ${what} ${line}`);
    }
  }
  return { pkg, path, available, describe: describe.skipIf(!available), it: it.skipIf(!available) };
}
