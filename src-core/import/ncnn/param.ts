// ncnn's text .param format (src/net.cpp load_param, src/paramdict.cpp load_param):
//   7767517                                  magic
//   <layer count> <blob count>
//   <type> <name> <n in> <n out> <in blob>... <out blob>... <id>=<value>...
// A value is an int ("64"), a float (has '.' or 'e': "4.000000e+00"), a string (starts with a letter or '"'),
// or an array: old style "-233XX=<len>,v,v,..." (id = -key - 23300) or new style "id=v,v,...".
// An array is float when its (last) element looks like a float, as in ncnn.
import { NcnnParamError } from './errors.ts';

export const NCNN_MAGIC = 7767517;
/** ncnn's NCNN_MAX_PARAM_COUNT: ids run 0..31. */
const MAX_PARAM_ID = 32;

export type ParamValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string };

/**
 * One layer's k=v params. The getters follow ParamDict::get: the default when the id is absent. ncnn keeps
 * an int and a float in one union, so asking for a float where the file wrote an int ("1=4" for a scale)
 * would read the int's bits; srq refuses that with an error that says how to write it.
 */
export class ParamDict {
  constructor(
    readonly values: ReadonlyMap<number, ParamValue>,
    private readonly where: string,
  ) {}

  has(id: number): boolean {
    return this.values.has(id);
  }

  int(id: number, def: number): number {
    const v = this.values.get(id);
    if (!v) return def;
    if (v.kind !== 'int') throw new NcnnParamError(`${this.where}: param ${id} must be an int, found ${describe(v)}`);
    return v.value;
  }

  float(id: number, def: number): number {
    const v = this.values.get(id);
    if (!v) return def;
    if (v.kind === 'int' && v.value === 0) return 0; // int 0 has the bits of float 0
    if (v.kind !== 'float') {
      throw new NcnnParamError(`${this.where}: param ${id} must be a float (write e.g. ${id}=${v.kind === 'int' ? v.value : 1}.0), found ${describe(v)}`);
    }
    return v.value;
  }

  /** An array param (either element type), or `def` when absent. A scalar is not an array. */
  array(id: number, def: number[] = []): number[] {
    const v = this.values.get(id);
    if (!v) return def;
    if (v.kind !== 'ints' && v.kind !== 'floats') throw new NcnnParamError(`${this.where}: param ${id} must be an array, found ${describe(v)}`);
    return v.value;
  }

  floats(id: number): number[] {
    const v = this.values.get(id);
    if (!v) return [];
    if (v.kind !== 'floats') throw new NcnnParamError(`${this.where}: param ${id} must be a float array, found ${describe(v)}`);
    return v.value;
  }

  string(id: number, def: string): string {
    const v = this.values.get(id);
    if (!v) return def;
    if (v.kind !== 'string') throw new NcnnParamError(`${this.where}: param ${id} must be a string, found ${describe(v)}`);
    return v.value;
  }
}

function describe(v: ParamValue): string {
  switch (v.kind) {
    case 'int': return `the int ${v.value}`;
    case 'float': return `the float ${v.value}`;
    case 'string': return `the string "${v.value}"`;
    default: return `a ${v.kind === 'ints' ? 'int' : 'float'} array of ${v.value.length}`;
  }
}

export interface NcnnLayer {
  type: string;
  name: string;
  bottoms: string[];
  tops: string[];
  params: ParamDict;
  /** 1-based line in the .param text, for messages. */
  line: number;
}

export interface NcnnParam {
  layers: NcnnLayer[];
  blobCount: number;
}

/** ncnn's vstr_is_float: a '.' or an 'e'/'E' anywhere makes it a float. */
const looksFloat = (s: string) => /[.eE]/.test(s);
const looksString = (s: string) => /^[A-Za-z"]/.test(s);

function parseNumber(token: string, where: string): { kind: 'int' | 'float'; value: number } {
  if (looksFloat(token)) {
    const v = Number(token);
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(token) || !Number.isFinite(v)) {
      throw new NcnnParamError(`${where}: "${token}" is not a number`);
    }
    return { kind: 'float', value: Math.fround(v) };
  }
  if (!/^[+-]?\d+$/.test(token)) throw new NcnnParamError(`${where}: "${token}" is not a number`);
  const v = Number(token);
  if (v > 2 ** 31 - 1 || v < -(2 ** 31)) throw new NcnnParamError(`${where}: ${token} does not fit in an int`);
  return { kind: 'int', value: v };
}

function arrayOf(tokens: string[], where: string): ParamValue {
  const parsed = tokens.map((t) => parseNumber(t, where));
  const isFloat = parsed.length > 0 && parsed[parsed.length - 1]!.kind === 'float';
  // As in ncnn, the array's type is its last element's; an int element of a float array keeps its value
  // (srq converts it) rather than ncnn's reinterpreted bits, which no converter writes.
  return { kind: isFloat ? 'floats' : 'ints', value: parsed.map((p) => p.value) };
}

/** Splits a line on whitespace, keeping "quoted strings" with spaces as one token. */
function tokenize(line: string): string[] {
  const tokens: string[] = [];
  const re = /[^\s"]*"[^"]*"[^\s]*|\S+/g;
  for (let m = re.exec(line); m; m = re.exec(line)) tokens.push(m[0]);
  return tokens;
}

function parsePair(token: string, where: string): [number, ParamValue] {
  const eq = token.indexOf('=');
  if (eq <= 0) throw new NcnnParamError(`${where}: "${token}" is not a k=v param`);
  const keyText = token.slice(0, eq);
  const valueText = token.slice(eq + 1);
  if (!/^-?\d+$/.test(keyText)) throw new NcnnParamError(`${where}: param key "${keyText}" is not an integer`);
  let id = Number(keyText);
  const oldStyleArray = id <= -23300;
  if (oldStyleArray) id = -id - 23300;
  if (id < 0 || id >= MAX_PARAM_ID) throw new NcnnParamError(`${where}: param id ${keyText} is out of range (0..${MAX_PARAM_ID - 1}, or -23300..-23331 for arrays)`);
  const at = `${where}, param ${keyText}`;
  if (valueText === '') throw new NcnnParamError(`${at}: no value after '='`);
  if (oldStyleArray) {
    const [lenText, ...items] = valueText.split(',');
    const len = parseNumber(lenText!, at);
    if (len.kind !== 'int' || len.value < 0) throw new NcnnParamError(`${at}: an array starts with its length, found "${lenText}"`);
    if (items.length !== len.value) throw new NcnnParamError(`${at}: the array says ${len.value} elements but has ${items.length}`);
    return [id, arrayOf(items, at)];
  }
  if (looksString(valueText)) {
    return [id, { kind: 'string', value: valueText.replace(/^"/, '').replace(/"$/, '') }];
  }
  if (valueText.includes(',')) return [id, arrayOf(valueText.split(',').filter((s) => s !== ''), at)];
  return [id, parseNumber(valueText, at)];
}

/**
 * Parses the text of an ncnn .param file. `source` names the file in messages. Checks what ncnn's loader
 * checks (magic, counts, blob counts per layer) plus that every blob is produced once before it is used.
 */
export function parseNcnnParam(text: string, source = 'the .param file'): NcnnParam {
  const lines = text.split(/\r?\n/);
  let i = 0;
  const next = (): { tokens: string[]; line: number } | undefined => {
    while (i < lines.length) {
      const tokens = tokenize(lines[i]!);
      i++;
      if (tokens.length > 0) return { tokens, line: i };
    }
    return undefined;
  };

  const magicLine = next();
  if (!magicLine || magicLine.tokens[0] !== String(NCNN_MAGIC)) {
    const found = /[\0-\x08\x0e-\x1f]/.test(text.slice(0, 64))
      ? 'binary data (a .param.bin? srq reads the text .param)'
      : magicLine ? `"${magicLine.tokens[0]!.slice(0, 20)}"` : 'an empty file';
    throw new NcnnParamError(`${source} is not an ncnn text .param file: it must start with the magic number ${NCNN_MAGIC}, found ${found}`);
  }
  const counts = next();
  const layerCount = Number(counts?.tokens[0]);
  const blobCount = Number(counts?.tokens[1]);
  if (!counts || counts.tokens.length !== 2 || !Number.isInteger(layerCount) || !Number.isInteger(blobCount) || layerCount <= 0 || blobCount <= 0) {
    throw new NcnnParamError(`${source} line ${counts?.line ?? 2}: expected "<layer count> <blob count>" (two positive integers)`);
  }

  const layers: NcnnLayer[] = [];
  const produced = new Set<string>();
  for (let l = 0; l < layerCount; l++) {
    const entry = next();
    if (!entry) throw new NcnnParamError(`${source} declares ${layerCount} layers but ends after ${l}; is it truncated?`);
    const { tokens, line } = entry;
    const where = `${source} line ${line}`;
    if (tokens.length < 4) throw new NcnnParamError(`${where}: expected "<type> <name> <inputs> <outputs> <blobs...> <k=v...>"`);
    const [type, name, nInText, nOutText] = tokens as [string, string, string, string];
    const nIn = Number(nInText);
    const nOut = Number(nOutText);
    if (!/^\d+$/.test(nInText) || !/^\d+$/.test(nOutText)) throw new NcnnParamError(`${where} (layer ${name}): blob counts "${nInText} ${nOutText}" are not integers`);
    if (tokens.length < 4 + nIn + nOut) throw new NcnnParamError(`${where} (layer ${name}): lists fewer blob names than its counts ${nIn} ${nOut}`);
    const bottoms = tokens.slice(4, 4 + nIn);
    const tops = tokens.slice(4 + nIn, 4 + nIn + nOut);
    const values = new Map<number, ParamValue>();
    for (const token of tokens.slice(4 + nIn + nOut)) {
      const [id, value] = parsePair(token, `${where} (layer ${name})`);
      values.set(id, value);
    }
    for (const b of bottoms) {
      if (!produced.has(b)) throw new NcnnParamError(`${where} (layer ${name}): input blob "${b}" is not produced by an earlier layer`);
    }
    for (const t of tops) {
      if (produced.has(t)) throw new NcnnParamError(`${where} (layer ${name}): blob "${t}" is produced twice`);
      produced.add(t);
    }
    layers.push({ type, name, bottoms, tops, params: new ParamDict(values, `layer ${name} (${type})`), line });
  }
  const extra = next();
  if (extra) throw new NcnnParamError(`${source} line ${extra.line}: more layers than the declared ${layerCount}`);
  if (produced.size !== blobCount) {
    throw new NcnnParamError(`${source} declares ${blobCount} blobs but its layers produce ${produced.size}`);
  }
  return { layers, blobCount };
}
