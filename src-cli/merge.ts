// srq merge: the last step of a sharded run (a GitHub Actions matrix, one runner per model). Reads the manifest.json
// of each shard's published folder, checks every listed file against its SHA-256, and writes one folder holding all
// the files, their reports and one manifest.json that the edge worker loads. Never overwrites a file it did not write.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mergeManifests, type ManifestSource } from '../src-core/manifest-merge.ts';
import { parseManifest } from '../src-edge/manifest.ts';
import { parse } from './args.ts';
import { EXIT_OK, UsageError } from './errors.ts';

const help = `usage: srq merge <folder|manifest.json>... -o <folder>

Merges the folders that \`srq run\` or the Action published (one per shard of a matrix) into one folder: every
model file (checked against its SHA-256), the reports/ of each, and one manifest.json for the edge worker.
The first folder's first model stays the edge's default model.
  -o, --out <folder>   where the merged folder goes (new or empty of manifest.json; nothing is overwritten)`;

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Copies `from` to `to` unless `to` already holds the same bytes; refuses to replace different bytes. */
function copyOnce(from: string, to: string): void {
  if (existsSync(to)) {
    if (sha256(to) === sha256(from)) return;
    throw new UsageError(`${to} already exists with other content; srq never overwrites files: give an empty --out folder`);
  }
  mkdirSync(path.dirname(to), { recursive: true });
  copyFileSync(from, to);
}

export async function mergeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('merge', argv, { out: { type: 'string', short: 'o' } });
  if (values.help) return console.log(help), EXIT_OK;
  if (positionals.length === 0) throw new UsageError('merge needs the published folders of the shards (srq merge shards/* -o merged)');
  if (!values.out) throw new UsageError('merge needs -o <folder> for the merged models and manifest');
  const out = values.out;
  if (existsSync(path.join(out, 'manifest.json'))) throw new UsageError(`${out} already holds a manifest.json; give a new or empty --out folder`);

  const sources: (ManifestSource & { dir: string })[] = positionals.map((given) => {
    const file = existsSync(given) && statSync(given).isDirectory() ? path.join(given, 'manifest.json') : given;
    if (!existsSync(file)) throw new UsageError(`${given} has no manifest.json; give the folders \`srq run\` or the Action published`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UsageError(`${file} is not JSON (${(e as Error).message})`);
    }
    const manifest = parseManifest(json, file);
    // parseManifest keeps the edge's fields only: merge the full entries (metrics, provenance) it checked.
    const full = (json as { models: typeof manifest.models }).models;
    const dir = path.dirname(file);
    for (const entry of full) {
      const at = path.join(dir, entry.file);
      if (!existsSync(at)) throw new UsageError(`${at}, listed in ${file}, is missing; the shard's artifact is incomplete`);
      if (sha256(at) !== entry.sha256) throw new UsageError(`${at} does not match the SHA-256 in ${file}; the shard's artifact is corrupt`);
    }
    return { label: file, dir, manifest: { ...manifest, models: full } };
  });
  const merged = mergeManifests(sources);

  mkdirSync(out, { recursive: true });
  for (const entry of merged.models) {
    const from = sources.find((s) => s.manifest.models.includes(entry))!;
    copyOnce(path.join(from.dir, entry.file), path.join(out, entry.file));
  }
  for (const { dir } of sources) {
    const reports = path.join(dir, 'reports');
    if (!existsSync(reports)) continue;
    // A model run by two shards has two reports of the same files: the first one stays.
    for (const name of readdirSync(reports)) {
      const to = path.join(out, 'reports', name);
      if (!existsSync(to)) copyOnce(path.join(reports, name), to);
    }
  }
  writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(merged, null, 2) + '\n');
  const names = [...new Set(merged.models.map((m) => m.name))];
  console.log(`wrote ${out}/manifest.json: ${merged.models.length} files of ${names.length} models (${names.join(', ')}) from ${sources.length} folders`);
  return EXIT_OK;
}
