// Node: a manifest and its model files on the local disk (the embedded defaults, or SRQ_MANIFEST=<path>).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ModelSourceError, type ModelSource } from './model-source.ts';

export function fileSource(manifestPath: string, describe: string): ModelSource {
  const read = async (path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new ModelSourceError(`cannot read ${path} (${code}); check SRQ_MANIFEST and the files it lists`);
    }
  };
  return {
    describe,
    async manifest() {
      const text = (await read(manifestPath)).toString('utf8');
      try {
        return JSON.parse(text);
      } catch {
        throw new ModelSourceError(`${manifestPath} is not valid JSON; SRQ_MANIFEST must point at a manifest.json`);
      }
    },
    async read(file) {
      const bytes = await read(join(dirname(manifestPath), file));
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  };
}
