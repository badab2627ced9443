// Node-only: the FP32 model files a run works on, found by globs relative to the workspace.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { globSync } from 'tinyglobby';
import { JobInputError } from './options.ts';

export interface ModelFile {
  /** Path relative to the workspace, with '/' (as git and annotations want it). */
  path: string;
  absolutePath: string;
  /** The file name without .onnx: names its variants, reports and manifest entries. */
  name: string;
  bytes: Uint8Array;
  sha256: string;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

// The edge's manifest rule for model names.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function modelName(path: string): string {
  return path.split('/').pop()!.replace(/\.onnx$/i, '');
}

/** .onnx files matched by the globs, sorted, never inside the output folder or node_modules. */
export function matchModelPaths(workspace: string, globs: readonly string[], outDir: string): string[] {
  if (globs.length === 0) throw new JobInputError('no model glob given; name the FP32 .onnx files, e.g. models/*.onnx');
  const out = relative(workspace, isAbsolute(outDir) ? outDir : join(workspace, outDir)).split('\\').join('/');
  const ignore = ['**/node_modules/**', ...(out && !out.startsWith('..') ? [`${out}/**`] : [])];
  const paths = globSync([...globs], { cwd: workspace, ignore, onlyFiles: true, expandDirectories: false });
  return [...new Set(paths.filter((p) => /\.onnx$/i.test(p)))].sort();
}

export function readModelFiles(workspace: string, paths: readonly string[]): ModelFile[] {
  const byName = new Map<string, string>();
  return paths.map((path) => {
    const name = modelName(path);
    if (!NAME.test(name)) throw new JobInputError(`model file ${path}: its name must be letters, digits, '.', '_' or '-' (it names the published files); rename it`);
    const clash = byName.get(name);
    if (clash) throw new JobInputError(`models ${clash} and ${path} share the name ${name}, and so would their variants; rename one or narrow the glob`);
    byName.set(name, path);
    const absolutePath = join(workspace, path);
    const bytes = readFileSync(absolutePath);
    return { path, absolutePath, name, bytes, sha256: sha256Hex(bytes) };
  });
}
