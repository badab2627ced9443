// The pull request this run belongs to, from the event payload ($GITHUB_EVENT_PATH), or undefined otherwise.
import { readFileSync } from 'node:fs';

export interface PullRequest {
  owner: string;
  repo: string;
  number: number;
  baseSha: string;
  baseRef: string;
}

const PR_EVENTS = new Set(['pull_request', 'pull_request_target']);

export function pullRequestFromEvent(env: NodeJS.ProcessEnv = process.env): PullRequest | undefined {
  if (!PR_EVENTS.has(env['GITHUB_EVENT_NAME'] ?? '') || !env['GITHUB_EVENT_PATH']) return undefined;
  const payload = JSON.parse(readFileSync(env['GITHUB_EVENT_PATH'], 'utf8')) as {
    pull_request?: { number?: number; base?: { sha?: string; ref?: string } };
    repository?: { name?: string; owner?: { login?: string } };
  };
  const pr = payload.pull_request;
  const [owner, repo] = (env['GITHUB_REPOSITORY'] ?? `${payload.repository?.owner?.login}/${payload.repository?.name}`).split('/');
  if (!pr?.number || !pr.base?.sha || !owner || !repo) return undefined;
  return { owner, repo, number: pr.number, baseSha: pr.base.sha, baseRef: pr.base.ref ?? pr.base.sha };
}
