// One manifest from several: the runners of a GitHub Actions matrix each publish the models of their shard, and a
// last job merges their manifests into the one the edge worker loads. Runtime-agnostic; src-cli/merge.ts copies the
// files. Entries keep the order of the sources (the first source's first model stays the edge's default).
import type { ManifestEntry, ModelManifest } from './manifest.ts';
import { SRQ_VERSION } from './version.ts';

export class ManifestMergeError extends Error {
  override name = 'ManifestMergeError';
}

export interface ManifestSource {
  /** Where the manifest came from, for errors (e.g. "shards/srq-1/manifest.json"). */
  label: string;
  manifest: ModelManifest;
}

/**
 * Concatenates the sources' entries. The same file listed twice (same model, variant and SHA-256: two shards that
 * both ran a model) is kept once; two different files for one model variant, or one file name holding different
 * bytes, are an error naming both sources, since the merge cannot know which one was meant.
 */
export function mergeManifests(sources: readonly ManifestSource[], srqVersion = SRQ_VERSION): ModelManifest {
  if (sources.length === 0) throw new ManifestMergeError('nothing to merge; give the folders the shards published');
  const byVariant = new Map<string, { entry: ManifestEntry; label: string }>();
  const byFile = new Map<string, { entry: ManifestEntry; label: string }>();
  const models: ManifestEntry[] = [];
  for (const { label, manifest } of sources) {
    for (const entry of manifest.models) {
      const key = `${entry.name}/${entry.variant}`;
      const same = byVariant.get(key);
      if (same) {
        if (same.entry.sha256 === entry.sha256 && same.entry.file === entry.file) continue;
        throw new ManifestMergeError(
          `${entry.name} (${entry.variant}) is published by both ${same.label} and ${label} with different files; ` +
            'run each model in exactly one shard of the matrix',
        );
      }
      const clash = byFile.get(entry.file);
      if (clash && clash.entry.sha256 !== entry.sha256) {
        throw new ManifestMergeError(`${entry.file} holds different bytes in ${clash.label} and ${label}; give the models distinct names`);
      }
      byVariant.set(key, { entry, label });
      byFile.set(entry.file, { entry, label });
      models.push(entry);
    }
  }
  return { version: 1, srqVersion, models };
}
