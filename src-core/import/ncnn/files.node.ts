// Node-only: reads an ncnn model (.param text + .bin weights) from disk and imports it. The .bin is the file
// with the same stem next to the .param (model.param -> model.bin) unless a path is given.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { importNcnn } from './convert.ts';
import type { NcnnImportResult } from './convert.ts';

export class NcnnFileError extends Error {
  override name = 'NcnnFileError';
}

/** model.param -> model.bin (same folder, same stem). */
export function defaultBinPath(paramPath: string): string {
  const ext = path.extname(paramPath);
  return path.join(path.dirname(paramPath), `${path.basename(paramPath, ext)}.bin`);
}

export interface NcnnFileImportResult extends NcnnImportResult {
  name: string;
  binPath: string;
}

export async function importNcnnFiles(paramPath: string, opts: { binPath?: string; name?: string } = {}): Promise<NcnnFileImportResult> {
  const binPath = opts.binPath ?? defaultBinPath(paramPath);
  let text: string;
  try {
    text = await readFile(paramPath, 'utf8');
  } catch (e) {
    throw new NcnnFileError(`cannot read ${paramPath} (${(e as NodeJS.ErrnoException).code ?? e}); pass the path of an ncnn .param file`);
  }
  let bin: Uint8Array;
  try {
    bin = await readFile(binPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const hint = opts.binPath ? 'check the --bin path' : `put the weights next to the .param with the same name, or pass --bin <weights.bin>`;
    throw new NcnnFileError(`cannot read the ncnn weights ${binPath} (${code}); ${hint}`);
  }
  const name = opts.name ?? path.basename(paramPath, path.extname(paramPath));
  const result = importNcnn(text, bin, { name, paramSource: paramPath, binSource: binPath });
  return { ...result, name, binPath };
}
