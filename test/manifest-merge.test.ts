// Sharded runs (issue 14): each runner of a matrix publishes its models' folder; `srq merge` makes one folder and
// manifest that the edge worker loads. Shard folders are built from the edge's real embedded models.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ManifestEntry, ModelManifest } from '../src-core/manifest.ts';
import { ManifestMergeError, mergeManifests } from '../src-core/manifest-merge.ts';
import { parseManifest } from '../src-edge/manifest.ts';
import { expectOneLineError, srq } from './helpers/cli.ts';

const edgeModels = path.resolve(import.meta.dirname, '../src-edge/models');
const embedded = JSON.parse(readFileSync(path.join(edgeModels, 'manifest.json'), 'utf8')) as ModelManifest;
const entriesOf = (name: string) => embedded.models.filter((m) => m.name === name);
const work = mkdtempSync(path.join(tmpdir(), 'srq-merge-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A folder as `srq run` publishes it: the model files, manifest.json and a report per model. */
function shard(dir: string, models: ManifestEntry[]): string {
  const at = path.join(work, dir);
  mkdirSync(path.join(at, 'reports'), { recursive: true });
  for (const m of models) {
    copyFileSync(path.join(edgeModels, m.file), path.join(at, m.file));
    writeFileSync(path.join(at, 'reports', `${m.name}.report.md`), `report of ${m.name} from ${dir}\n`);
  }
  writeFileSync(path.join(at, 'manifest.json'), JSON.stringify({ version: 1, srqVersion: '1.0.0', models }, null, 2));
  return at;
}

describe('mergeManifests', () => {
  const [slimInt8, slimFp16] = entriesOf('esrgan-slim-x4');
  const [x2Int8] = entriesOf('esrgan-slim-x2');

  it('keeps the sources\' order and lists a file two shards both published once', () => {
    const merged = mergeManifests([
      { label: 'a', manifest: { version: 1, models: [slimInt8!, slimFp16!] } },
      { label: 'b', manifest: { version: 1, models: [x2Int8!, slimInt8!] } },
    ]);
    expect(merged.models.map((m) => `${m.name}/${m.variant}`)).toEqual(['esrgan-slim-x4/int8', 'esrgan-slim-x4/fp16', 'esrgan-slim-x2/int8']);
  });

  it('refuses two different files for one model variant, naming both shards', () => {
    const other = { ...slimInt8!, sha256: 'f'.repeat(64) };
    expect(() => mergeManifests([
      { label: 'shards/a/manifest.json', manifest: { version: 1, models: [slimInt8!] } },
      { label: 'shards/b/manifest.json', manifest: { version: 1, models: [other] } },
    ])).toThrow(new ManifestMergeError('esrgan-slim-x4 (int8) is published by both shards/a/manifest.json and shards/b/manifest.json with different files; run each model in exactly one shard of the matrix'));
  });
});

describe('srq merge', () => {
  it('merges two shards into one folder the edge reads: files checked, reports kept, first model first', () => {
    const a = shard('a', entriesOf('esrgan-slim-x4'));
    const b = shard('b', entriesOf('realesr-x4fast'));
    const out = path.join(work, 'merged');
    const r = srq(['merge', a, b, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('4 files of 2 models (esrgan-slim-x4, realesr-x4fast) from 2 folders');
    const merged = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    const edge = parseManifest(merged, 'merged');
    expect(edge.models.map((m) => m.file)).toEqual([...entriesOf('esrgan-slim-x4'), ...entriesOf('realesr-x4fast')].map((m) => m.file));
    for (const m of edge.models) expect(readFileSync(path.join(out, m.file)).equals(readFileSync(path.join(edgeModels, m.file)))).toBe(true);
    expect(merged.models[0].license).toBe('MIT'); // provenance fields survive, not only the edge's
    expect(readFileSync(path.join(out, 'reports', 'realesr-x4fast.report.md'), 'utf8')).toBe('report of realesr-x4fast from b\n');
  });

  it('refuses a shard whose file does not match its SHA-256, and writes nothing', () => {
    const bad = shard('bad', entriesOf('esrgan-slim-x2'));
    writeFileSync(path.join(bad, 'esrgan-slim-x2.int8.onnx'), 'not the model');
    const out = path.join(work, 'merged-bad');
    const line = expectOneLineError(srq(['merge', shard('ok', entriesOf('esrgan-slim-x4')), bad, '-o', out]));
    expect(line).toBe(`srq: ${path.join(bad, 'esrgan-slim-x2.int8.onnx')} does not match the SHA-256 in ${path.join(bad, 'manifest.json')}; the shard's artifact is corrupt`);
    expect(existsSync(out)).toBe(false);
  });

  it('never overwrites: an --out folder with a manifest, or a different file of the same name, is refused', () => {
    const a = shard('c', entriesOf('esrgan-slim-x4'));
    expect(expectOneLineError(srq(['merge', a, '-o', a]))).toBe(`srq: ${a} already holds a manifest.json; give a new or empty --out folder`);
    const out = path.join(work, 'occupied');
    mkdirSync(out);
    writeFileSync(path.join(out, 'esrgan-slim-x4.int8.onnx'), 'the user\'s own file');
    expect(expectOneLineError(srq(['merge', a, '-o', out]))).toContain('already exists with other content; srq never overwrites files');
    expect(readFileSync(path.join(out, 'esrgan-slim-x4.int8.onnx'), 'utf8')).toBe('the user\'s own file');
  });

  it('says what to give when a folder has no manifest', () => {
    expect(expectOneLineError(srq(['merge', work, '-o', path.join(work, 'x')]))).toBe(`srq: ${work} has no manifest.json; give the folders \`srq run\` or the Action published`);
  });
});
