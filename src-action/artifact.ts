// Publishing: the run's output folder (passing variants, manifest.json, reports, summary) as one workflow artifact
// through @actions/artifact (ACTIONS_RESULTS_URL + ACTIONS_RUNTIME_TOKEN). Without those (a local run) it is skipped.
import { DefaultArtifactClient } from '@actions/artifact';
import { join } from 'node:path';
import type { JobLog } from './job/log.ts';
import type { RunResult } from './job/run-job.ts';

export interface UploadedArtifact {
  name: string;
  id: number;
  url?: string;
}

export function artifactServiceAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env['ACTIONS_RUNTIME_TOKEN'] && env['ACTIONS_RESULTS_URL']);
}

/** The artifact's page, when the run's coordinates are known. */
export function artifactUrl(id: number, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  return server && repo && run ? `${server}/${repo}/actions/runs/${run}/artifacts/${id}` : undefined;
}

export async function uploadRunArtifact(result: RunResult, name: string, log: JobLog): Promise<UploadedArtifact | undefined> {
  if (!artifactServiceAvailable()) {
    log.info('artifact service not available (no ACTIONS_RUNTIME_TOKEN / ACTIONS_RESULTS_URL, e.g. a local run): upload skipped; the files are in the output folder');
    return undefined;
  }
  const files = result.report.files.map((f) => join(result.outDir, f));
  try {
    const { id } = await new DefaultArtifactClient().uploadArtifact(name, files, result.outDir);
    if (id === undefined) throw new Error('the artifact service returned no id');
    const url = artifactUrl(id);
    log.info(`uploaded artifact ${name} (${files.length} files)${url ? `: ${url}` : ''}`);
    return { name, id, ...(url ? { url } : {}) };
  } catch (e) {
    const message = (e as Error).message.split('\n')[0];
    const hint = /conflict|already exists/i.test(message) ? ' (each step needs its own artifact-name, e.g. srq-models-${{ matrix.os }})' : '';
    throw new Error(`could not upload artifact ${name}: ${message}${hint}`);
  }
}
