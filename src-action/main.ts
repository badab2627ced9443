// The GitHub Action: srq's job (src-action/job, the same as `srq run`) with GitHub around it: inputs, log groups,
// the cache, the artifact, the job summary, annotations on failing model files, one sticky PR comment, outputs,
// and one sentence through setFailed when the gate fails.
import * as core from '@actions/core';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { actionsCache } from './actions-cache.ts';
import { uploadRunArtifact, type UploadedArtifact } from './artifact.ts';
import { buildIdentity } from './build-identity.ts';
import { readInputs } from './inputs.ts';
import { throttled, type JobLog } from './job/log.ts';
import type { JobOptions } from './job/options.ts';
import { runJob, type RunResult } from './job/run-job.ts';
import { gateFailures, renderComment, renderJobFailure, renderRunSummary, runErrors } from './job/summary.ts';
import { prepareRuntime } from './ort-runtime.ts';
import { commentMarker, upsertComment } from './pr-comment.ts';
import { pullRequestFromEvent } from './pull-request.ts';

const actionLog: JobLog = {
  info: (m) => core.info(m),
  warning: (m, file) => core.warning(m, file ? { file } : {}),
  progress: throttled((m) => core.info(m), 10_000),
  group: (title, fn) => core.group(title, fn),
};

export async function run(): Promise<void> {
  let models: string[] = [];
  try {
    const inputs = readInputs();
    models = inputs.job.models;
    const workspace = process.env['GITHUB_WORKSPACE'] ?? process.cwd();
    const temp = process.env['RUNNER_TEMP'] ?? tmpdir();
    const { runtime, threads } = prepareRuntime(inputs.runtime, temp, actionLog);
    const pr = pullRequestFromEvent();
    const options: JobOptions = {
      ...inputs.job,
      workspace,
      runtime,
      ...(threads !== undefined ? { threads } : {}),
      // A pull request runs the models it changes (or all, with changed-only: false), compared with the base branch.
      ...(pr ? { base: pr.baseSha, baseLabel: pr.baseRef, fetchBase: true, changedOnly: inputs.changedOnly } : {}),
    };
    const cache = actionsCache(actionLog, buildIdentity());
    const result = await runJob(options, { log: actionLog, workDir: join(temp, 'srq-cache'), ...(cache ? { cache } : {}) });

    let artifact: UploadedArtifact | undefined;
    let uploadError: string | undefined;
    if (inputs.uploadArtifact && result.report.models.length > 0) {
      try {
        artifact = await uploadRunArtifact(result, inputs.artifactName, actionLog);
      } catch (e) {
        uploadError = (e as Error).message;
      }
    }
    const published = artifact ? { name: artifact.name, ...(artifact.url ? { url: artifact.url } : {}) } : undefined;
    await writeSummary(result, published);
    for (const f of gateFailures(result)) core.error(f.message, { file: f.path, title: 'srq quality gate' });
    for (const f of runErrors(result)) core.error(f.message, { file: f.path, title: 'srq' });
    if (pr && inputs.comment) {
      const marker = commentMarker(inputs.artifactName);
      await upsertComment(pr, renderComment(result, marker, published), marker, inputs.token, actionLog);
    }
    setOutputs(result, workspace, artifact);

    if (uploadError) core.setFailed(`srq: ${uploadError}`);
    // A model that could not be run was not checked at all: that fails the step whatever fail-on-gate says.
    else if (result.errors.length > 0 || (!result.passed && inputs.failOnGate)) core.setFailed(`srq: ${result.report.summary}`);
    else if (!result.passed) core.warning(`srq: ${result.report.summary} (fail-on-gate is false: the step passes)`);
  } catch (e) {
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
    core.setOutput('passed', 'false');
    core.debug((e as Error).stack ?? String(e));
    core.setFailed(`srq: ${message}`);
    // The job summary says what failed even when there are no results to show.
    try {
      if (process.env['GITHUB_STEP_SUMMARY']) await core.summary.emptyBuffer().addRaw(renderJobFailure(message, models.length ? models : [core.getInput('models')].filter(Boolean))).write();
    } catch (err) {
      core.warning(`srq: could not write the job summary (${(err as Error).message})`);
    }
  }
}

async function writeSummary(result: RunResult, artifact: { name: string; url?: string } | undefined): Promise<void> {
  if (!process.env['GITHUB_STEP_SUMMARY']) {
    core.info('no GITHUB_STEP_SUMMARY (a local run): the summary is in summary.md in the output folder');
    return;
  }
  await core.summary.addRaw(renderRunSummary(result, artifact ? { artifact } : {})).write();
}

function setOutputs(result: RunResult, workspace: string, artifact: UploadedArtifact | undefined): void {
  // Paths relative to the workspace when inside it (what later steps and upload actions expect), else absolute.
  const path = (p: string) => {
    const r = relative(workspace, p);
    return r && !r.startsWith('..') ? r : p;
  };
  core.setOutput('passed', String(result.passed));
  core.setOutput('report', path(result.reportPath));
  core.setOutput('manifest', path(result.manifestPath));
  core.setOutput('artifact-dir', path(result.outDir));
  core.setOutput('summary', result.report.summary);
  if (artifact) core.setOutput('artifact-id', String(artifact.id));
}
