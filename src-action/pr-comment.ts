// One PR comment per srq step, found by a hidden marker and updated in place on every push (never a new comment
// each time), through @actions/github's Octokit with the workflow's token (GITHUB_API_URL honoured, for GHES).
// A read-only token (pull requests from forks) gets 403: that is logged and the job summary remains the place to
// read the results; nothing here fails the job.
import * as github from '@actions/github';
import type { JobLog } from './job/log.ts';
import type { PullRequest } from './pull-request.ts';

export type CommentResult = 'created' | 'updated' | 'denied' | 'failed' | 'skipped';

/** Hidden in the rendered comment; one per artifact name, so two srq steps keep two comments. */
export function commentMarker(artifactName: string): string {
  return `<!-- srq-action:${artifactName} -->`;
}

/** The HTTP status of an Octokit RequestError, if that is what `e` is. */
function httpStatus(e: unknown): number | undefined {
  const status = (e as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

export async function upsertComment(pr: PullRequest, body: string, marker: string, token: string, log: JobLog): Promise<CommentResult> {
  if (!token) {
    log.info('no github-token: PR comment skipped; the results are in the job summary');
    return 'skipped';
  }
  const octokit = github.getOctokit(token, { userAgent: 'srq-action' });
  const issue = { owner: pr.owner, repo: pr.repo, issue_number: pr.number };
  let existing: number | undefined;
  try {
    // Page through the comments until the marker turns up.
    await octokit.paginate(octokit.rest.issues.listComments, { ...issue, per_page: 100 }, (response, done) => {
      existing = response.data.find((c) => c.body?.includes(marker))?.id;
      if (existing !== undefined) done();
      return [];
    });
    if (existing !== undefined) await octokit.rest.issues.updateComment({ owner: pr.owner, repo: pr.repo, comment_id: existing, body });
    else await octokit.rest.issues.createComment({ ...issue, body });
    log.info(`${existing !== undefined ? 'updated' : 'created'} the srq comment on pull request #${pr.number}`);
    return existing !== undefined ? 'updated' : 'created';
  } catch (e) {
    const status = httpStatus(e);
    if (status === 403 || status === 404) {
      log.info(`the token may not comment on pull request #${pr.number} (HTTP ${status}; pull requests from forks get a read-only token): the results are in the job summary`);
      return 'denied';
    }
    log.warning(`could not comment on pull request #${pr.number} (${(e as Error).message.split('\n')[0]}); the results are in the job summary`);
    return 'failed';
  }
}
