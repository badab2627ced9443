// Where the manifest and its model files come from: the embedded defaults, a file next to the process
// (Node, Deno) or a URL (any runtime). Every file is checked against the manifest's size and SHA-256
// (Web Crypto) before it is used.
import type { ManifestEntry } from './manifest.ts';

export interface ModelSource {
  /** Names the source in logs, errors and /v1/models ('embedded', a path or a URL). */
  readonly describe: string;
  /** The manifest's parsed JSON (checked by parseManifest). */
  manifest(): Promise<unknown>;
  /** A file named by a manifest entry, relative to the manifest. */
  read(file: string): Promise<Uint8Array>;
}

export class ModelSourceError extends Error {
  override name = 'ModelSourceError';
}

/** A manifest published at an http(s) URL; its files are fetched relative to it. */
export function urlSource(url: string): ModelSource {
  const get = async (target: URL): Promise<Response> => {
    let res: Response;
    try {
      res = await fetch(target);
    } catch (e) {
      throw new ModelSourceError(`cannot fetch ${target.href} (${e instanceof Error ? e.message : e}); check SRQ_MANIFEST and the network`);
    }
    if (!res.ok) throw new ModelSourceError(`fetching ${target.href} gave HTTP ${res.status}; check SRQ_MANIFEST`);
    return res;
  };
  const base = new URL(url);
  return {
    describe: url,
    async manifest() {
      const res = await get(base);
      try {
        return await res.json();
      } catch {
        throw new ModelSourceError(`${url} is not JSON; SRQ_MANIFEST must point at a manifest.json`);
      }
    },
    async read(file) {
      return new Uint8Array(await (await get(new URL(file, base))).arrayBuffer());
    },
  };
}

export class ModelIntegrityError extends Error {
  override name = 'ModelIntegrityError';
}

/** Throws ModelIntegrityError unless `bytes` are exactly the file the manifest entry describes. */
export async function verifyModelFile(bytes: Uint8Array, entry: ManifestEntry): Promise<void> {
  if (bytes.length !== entry.bytes) {
    throw new ModelIntegrityError(
      `${entry.file} has ${bytes.length} bytes but the manifest says ${entry.bytes}; replace the file or regenerate the manifest`,
    );
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  if (hex !== entry.sha256) {
    throw new ModelIntegrityError(
      `${entry.file} has SHA-256 ${hex} but the manifest says ${entry.sha256}; replace the file or regenerate the manifest`,
    );
  }
}
