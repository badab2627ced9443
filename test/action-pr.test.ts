// The Action on a pull request (event payload, git checkout): only the models the PR changed run, the summary
// compares them with the base branch's version (before -> after), and one PR comment is created, then updated in
// place on the next push; a read-only token (a fork) leaves the summary as the report and the step green. Also the
// git side alone: changed paths, the merge base, and a shallow clone that must fetch its base.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changedPaths, fileAtCommit, resolveBase } from '../src-action/job/git.ts';
import type { RunReport } from '../src-action/job/run-report.ts';
import { decodeModel, encodeModel } from '../src-core/onnx/model.ts';
import { fastInputs, makeWorkspace, runAction } from './fixtures/action/runner.ts';
import { startServices, type Services } from './fixtures/action/services.ts';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=srq', '-c', 'user.email=srq@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The model with one weight tensor scaled by 1.03: a real change, with slightly different metrics. */
function perturb(path: string): void {
  const model = decodeModel(readFileSync(path));
  const weight = model.graph!.initializer!.find((t) => t.dataType === 1 && (t.rawData?.length ?? 0) > 1000)!;
  const copy = new Uint8Array(weight.rawData!); // a copy: decoded bytes may be a view into the file's buffer
  const values = new Float32Array(copy.buffer, 0, copy.length / 4);
  for (let i = 0; i < values.length; i++) values[i]! *= 1.03;
  weight.rawData = new Uint8Array(values.buffer);
  writeFileSync(path, encodeModel(model));
}

let root: string;
let services: Services;
let repo: string;
let baseSha: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'srq-action-pr-'));
  services = await startServices();
  // main: two models; the PR branch changes one of them.
  repo = join(root, 'repo');
  makeWorkspace(repo, ['sr-a', 'sr-b']);
  git(repo, 'init', '-q');
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'models');
  baseSha = git(repo, 'rev-parse', 'HEAD');
  git(repo, 'checkout', '-q', '-b', 'feature');
  perturb(join(repo, 'models', 'sr-a.onnx'));
  git(repo, 'commit', '-q', '-am', 'retrain sr-a');
});

afterAll(async () => {
  await services.close();
  rmSync(root, { recursive: true, force: true });
});

describe('git', () => {
  it('lists what changed since the merge base, and reads a file as it was there', () => {
    const base = resolveBase(repo, 'main', { fetch: false })!;
    expect(base).toEqual({ rev: 'main', commit: baseSha, mergeBase: true });
    expect([...changedPaths(repo, base.commit)]).toEqual(['models/sr-a.onnx']);
    expect(fileAtCommit(repo, base.commit, 'models/sr-a.onnx')).toEqual(readFileSync(join(repo, 'models', 'sr-b.onnx')));
    expect(fileAtCommit(repo, base.commit, 'models/none.onnx')).toBeUndefined();
    expect(resolveBase(repo, 'no-such-branch', { fetch: false })).toBeUndefined();
  });

  it('fetches the base into a shallow clone and, lacking history for a merge base, compares with it directly', () => {
    const shallow = join(root, 'shallow');
    git(root, 'clone', '-q', '--depth=1', '--branch', 'feature', `file://${repo}`, shallow);
    expect(() => git(shallow, 'cat-file', '-e', `${baseSha}^{commit}`)).toThrow();
    expect(resolveBase(shallow, baseSha, { fetch: true })).toEqual({ rev: baseSha, commit: baseSha, mergeBase: false });
    expect([...changedPaths(shallow, baseSha)]).toEqual(['models/sr-a.onnx']);
  });
});

describe('the Action on a pull request', () => {
  let temp: string;
  let env: Record<string, string>;
  const inputs = { ...fastInputs, 'github-token': 'test-token' };

  beforeAll(() => {
    temp = join(root, 'temp');
    const event = join(root, 'event.json');
    writeFileSync(event, JSON.stringify({ pull_request: { number: 7, base: { sha: baseSha, ref: 'main' }, head: { ref: 'feature' } }, repository: { name: 'models', owner: { login: 'octo' } } }));
    env = { ...services.env(), GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event };
  });

  it('runs only the changed model, compares it with the base branch and comments once', async () => {
    const run = await runAction({ workspace: repo, temp, inputs, env });
    expect(run.code, run.log).toBe(0);
    expect(run.log).toContain(`1 of 2 models changed since main (merge base ${baseSha.slice(0, 7)}): models/sr-a.onnx`);
    expect(run.log).toContain('::group::models/sr-a.onnx');
    expect(run.log).not.toContain('::group::models/sr-b.onnx');
    expect(run.log).toContain(`before: models/sr-a.onnx@${baseSha.slice(0, 7)}`);

    const report = JSON.parse(readFileSync(join(repo, 'srq-out', 'report.json'), 'utf8')) as RunReport;
    expect(report.models.map((m) => m.path)).toEqual(['models/sr-a.onnx']);
    const before = report.models[0]!.base;
    expect(before).toMatchObject({ variants: [{ quantization: 'int8-static', passed: true }] });
    expect(typeof before === 'object' && before?.sha256).not.toBe(report.models[0]!.sha256);

    expect(run.summary).toContain(`### Compared with main (merge base ${baseSha.slice(0, 7)})`);
    expect(run.summary).toMatch(/\| sr-a \| int8-static \| \d+\.\d\d → \d+\.\d\d \| [\d.]+ → [\d.]+ \| [\d.]+ → [\d.]+ \| .* \| ✅ \|/);

    expect(services.comments).toHaveLength(1);
    const comment = services.comments[0]!.body;
    expect(comment.startsWith('<!-- srq-action:srq-models -->\n## srq ✅ 1 of 1 variants passed')).toBe(true);
    expect(comment).toContain('### Compared with main');
    expect(run.log).toContain('created the srq comment on pull request #7');
    // Head and base were both computed and saved.
    expect(services.cache.size).toBe(2);
  });

  it('updates the same comment on the next push, restoring head and base from the cache', async () => {
    const run = await runAction({ workspace: repo, temp, inputs, env });
    expect(run.code, run.log).toBe(0);
    expect(run.log.match(/cache hit: /g)).toHaveLength(2);
    expect(run.log).not.toContain('quantizing');
    expect(services.comments).toHaveLength(1);
    expect(services.calls.filter((c) => c.method === 'PATCH' && c.path === `/repos/octo/models/issues/comments/${services.comments[0]!.id}`)).toHaveLength(1);
    expect(run.log).toContain('updated the srq comment on pull request #7');
  });

  it('with changed-only: false runs every model, comparing the unchanged ones with themselves for free', async () => {
    const run = await runAction({ workspace: repo, temp, inputs: { ...inputs, 'changed-only': 'false' }, env });
    expect(run.code, run.log).toBe(0);
    expect(run.log).toContain('::group::models/sr-b.onnx');
    expect(run.log).not.toContain('before: models/sr-b.onnx');
    const report = JSON.parse(readFileSync(join(repo, 'srq-out', 'report.json'), 'utf8')) as RunReport;
    expect(report.models.map((m) => m.path)).toEqual(['models/sr-a.onnx', 'models/sr-b.onnx']);
    const b = report.models[1]!;
    expect(typeof b.base === 'object' && b.base?.sha256).toBe(b.sha256);
    expect(services.comments).toHaveLength(1);
  });

  it('with a read-only token (a fork) keeps the results in the job summary and passes', async () => {
    services.denyComments = true;
    try {
      const run = await runAction({ workspace: repo, temp, inputs, env });
      expect(run.code, run.log).toBe(0);
      expect(run.log).toContain('the token may not comment on pull request #7 (HTTP 403');
      expect(run.log).not.toContain('::warning::');
      expect(run.summary).toContain('## srq ✅ 1 of 1 variants passed');
      expect(run.outputs['passed']).toBe('true');
    } finally {
      services.denyComments = false;
    }
  });

  it('finds its comment past the first page of 100 and updates it', async () => {
    const ours = services.comments[0]!;
    const others = Array.from({ length: 120 }, (_, i) => ({ id: 10_000 + i, body: `a reviewer's comment ${i}` }));
    services.comments.unshift(...others);
    try {
      const listed = () => services.calls.filter((c) => c.method === 'GET' && c.path === '/repos/octo/models/issues/7/comments').length;
      const before = listed();
      const run = await runAction({ workspace: repo, temp, inputs, env });
      expect(run.code, run.log).toBe(0);
      expect(listed() - before).toBe(2);
      expect(run.log).toContain('updated the srq comment on pull request #7');
      expect(services.comments).toHaveLength(121);
      expect(services.comments.filter((c) => c.body.includes('<!-- srq-action:srq-models -->')).map((c) => c.id)).toEqual([ours.id]);
    } finally {
      services.comments.splice(0, others.length);
    }
  });
});
