// Node-only: what changed since a base revision, and a file's bytes there, from the git checkout the run works in.
// CI checkouts are often shallow (actions/checkout fetches one commit): the base commit is fetched on demand, and
// when the history is too short for a merge base the base commit itself is compared with.
import { execFileSync } from 'node:child_process';

export interface BaseRevision {
  /** As asked for (a ref or a SHA). */
  rev: string;
  /** What changes and "before" metrics are taken against: the merge base of rev and HEAD, or rev's own commit. */
  commit: string;
  mergeBase: boolean;
}

function git(cwd: string, args: readonly string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

function tryGit(cwd: string, args: readonly string[]): string | undefined {
  try {
    return git(cwd, args).trim();
  } catch {
    return undefined;
  }
}

/** The base to compare with, or undefined when the revision cannot be found (even after fetching it). */
export function resolveBase(workspace: string, rev: string, opts: { fetch: boolean }): BaseRevision | undefined {
  if (tryGit(workspace, ['rev-parse', '--is-inside-work-tree']) !== 'true') return undefined;
  const commitOf = () => tryGit(workspace, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  let commit = commitOf();
  if (!commit && opts.fetch) {
    tryGit(workspace, ['fetch', '--no-tags', '--quiet', '--depth=1', 'origin', rev]);
    commit = commitOf();
  }
  if (!commit) return undefined;
  const base = tryGit(workspace, ['merge-base', commit, 'HEAD']);
  return base ? { rev, commit: base, mergeBase: true } : { rev, commit, mergeBase: false };
}

/** Workspace-relative paths that differ between `commit` and the working tree, untracked files included. */
export function changedPaths(workspace: string, commit: string): Set<string> {
  const split = (out: string) => out.split('\0').filter(Boolean);
  const changed = split(git(workspace, ['diff', '--name-only', '-z', '--no-renames', '--relative', commit]));
  const untracked = split(git(workspace, ['ls-files', '--others', '--exclude-standard', '-z']));
  return new Set([...changed, ...untracked]);
}

/** A workspace-relative file's bytes at `commit`, or undefined when it did not exist there. */
export function fileAtCommit(workspace: string, commit: string, path: string): Uint8Array | undefined {
  const spec = `${commit}:./${path}`;
  if (tryGit(workspace, ['cat-file', '-e', spec]) === undefined) return undefined;
  return execFileSync('git', ['show', spec], { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30 });
}
