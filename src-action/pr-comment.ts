// One PR comment per srq step, found by a hidden marker and updated in place on every push (never a new comment
// each time), through the REST API with the workflow's token. A read-only token (pull requests from forks) gets
// 403: that is logged and the job summary remains the place to read the results; nothing here fails the job.
import type { JobLog } from './job/log.ts';
import type { PullRequest } from './pull-request.ts';

export type CommentResult = 'created' | 'updated' | 'denied' | 'failed' | 'skipped';

/** Hidden in the rendered comment; one per artifact name, so two srq steps keep two comments. */
export function commentMarker(artifactName: string): string {
  return `<!-- srq-action:${artifactName} -->`;
}

export async function upsertComment(pr: PullRequest, body: string, marker: string, token: string, log: JobLog, apiUrl = process.env['GITHUB_API_URL'] ?? 'https://api.github.com'): Promise<CommentResult> {
  if (!token) {
    log.info('no github-token: PR comment skipped; the results are in the job summary');
    return 'skipped';
  }
  const api = `${apiUrl.replace(/\/$/, '')}/repos/${pr.owner}/${pr.repo}`;
  const headers = {
    Accept: 'application/vnd.github+json',
    Authorization: `Bearer ${token}`,
    'X-GitHub-Api-Version': '2022-11-28',
    'User-Agent': 'srq-action',
    'Content-Type': 'application/json',
  };
  const denied = (status: number) => {
    log.info(`the token may not comment on pull request #${pr.number} (HTTP ${status}; pull requests from forks get a read-only token): the results are in the job summary`);
    return 'denied' as const;
  };
  try {
    let existing: number | undefined;
    for (let page = 1; existing === undefined; page++) {
      const res = await fetch(`${api}/issues/${pr.number}/comments?per_page=100&page=${page}`, { headers });
      if (res.status === 403 || res.status === 404) return denied(res.status);
      if (!res.ok) throw new Error(`listing comments: HTTP ${res.status}`);
      const comments = (await res.json()) as { id: number; body?: string }[];
      existing = comments.find((c) => c.body?.includes(marker))?.id;
      if (comments.length < 100) break;
    }
    const res = existing !== undefined
      ? await fetch(`${api}/issues/comments/${existing}`, { method: 'PATCH', headers, body: JSON.stringify({ body }) })
      : await fetch(`${api}/issues/${pr.number}/comments`, { method: 'POST', headers, body: JSON.stringify({ body }) });
    if (res.status === 403 || res.status === 404) return denied(res.status);
    if (!res.ok) throw new Error(`${existing !== undefined ? 'updating' : 'creating'} the comment: HTTP ${res.status}`);
    log.info(`${existing !== undefined ? 'updated' : 'created'} the srq comment on pull request #${pr.number}`);
    return existing !== undefined ? 'updated' : 'created';
  } catch (e) {
    log.warning(`could not comment on pull request #${pr.number} (${(e as Error).message}); the results are in the job summary`);
    return 'failed';
  }
}
