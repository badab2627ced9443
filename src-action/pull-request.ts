// The pull request this run belongs to, from the workflow's context (@actions/github reads $GITHUB_EVENT_PATH,
// $GITHUB_EVENT_NAME and $GITHUB_REPOSITORY), or undefined on any other event.
import * as github from '@actions/github';

export interface PullRequest {
  owner: string;
  repo: string;
  number: number;
  baseSha: string;
  baseRef: string;
}

const PR_EVENTS = new Set(['pull_request', 'pull_request_target']);

type Context = typeof github.context;

export function pullRequestFromEvent(context: Context = github.context): PullRequest | undefined {
  const pr = context.payload.pull_request;
  if (!PR_EVENTS.has(context.eventName ?? '') || !pr) return undefined;
  const base = pr['base'] as { sha?: string; ref?: string } | undefined;
  if (!pr.number || !base?.sha) return undefined;
  let repo: { owner: string; repo: string };
  try {
    repo = context.repo; // GITHUB_REPOSITORY, else the payload's repository; throws when neither is there
  } catch {
    return undefined;
  }
  return { ...repo, number: pr.number, baseSha: base.sha, baseRef: base.ref ?? base.sha };
}
