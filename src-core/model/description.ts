// What srq knows about an SR model, resolved once and handed to every step (quantize, validate, tile, serve):
// scale, border, receptive field, input layout and range, and what srq rewrote to bring the model to its contract
// (NCHW RGB float32 in [0, 1] in, the same out). Facts come from the graph and from probe runs; `srq.*` metadata
// is only a cache of them, and a user's `scale` only an override that must agree. Runtime-agnostic.
import { cloneModel, encodeModel, getMetadata, setMetadata } from '../onnx/model.ts';
import type { ModelProto } from '../onnx/types.ts';
import type { Runner } from '../runtime/runner.ts';
import { receptiveField, ReceptiveFieldError } from '../tiling/receptive-field.ts';
import { normalizeInputRange } from './input-range.ts';
import { measureGeometry, measureInputRange, measureRadius, ModelProbeError, tilesMatchWhole } from './probe.ts';
import { checkSignature, freeImageSize } from './signature.ts';

export class ModelDescriptionError extends Error {
  override name = 'ModelDescriptionError';
}

/** How tiles are cut and stitched for a model: what the tiling engine and the edge need of a description. */
export interface TileGeometry {
  /** Output px per input px. */
  scale: number;
  /** Output px the model loses on each side: out = scale·in − 2·border (0 for padded convs). */
  border: number;
  /** Input px of context a tile needs on each side: the receptive-field radius. */
  overlap: number;
  /**
   * True when tiles cannot reproduce the whole image (measured: e.g. attention windows anchored at the image
   * origin): such a model runs on the whole image at once, whatever the tile size asked for.
   */
  wholeImage?: boolean;
}

export interface ModelDescription extends TileGeometry {
  /** How each fact was found. */
  found: { scale: 'probe'; overlap: 'graph' | 'measured' | 'metadata'; range: 'probe' | 'metadata' | 'override' | 'assumed' };
  input: { name: string; layout: 'NCHW'; channels: 3 };
  output: { name: string };
  /** The pixel range the source model takes; srq's copy always takes [0, 1] (see rewrites). */
  sourceRange: 1 | 255;
  /** Exact rewrites srq made to the source model before anything else, in words. */
  rewrites: string[];
  /** Things the user should know (a guess srq had to make). */
  notes: string[];
}

/** The model in srq's contract, and what is known of it. Every step takes this, never loose options. */
export interface ResolvedModel {
  model: ModelProto;
  description: ModelDescription;
}

/** What a user may state; each is checked against what the graph does. */
export interface ModelOverrides {
  scale?: number;
  inputRange?: 1 | 255;
}

export interface ResolveOptions {
  /** Shown in messages (usually the file path). */
  name?: string;
  overrides?: ModelOverrides;
  createRunner: (bytes: Uint8Array) => Promise<Runner>;
}

/** Metadata keys of the cache srq writes into every model it produces. */
export const META = { scale: 'srq.scale', border: 'srq.border', overlap: 'srq.overlap', wholeImage: 'srq.whole_image', range: 'srq.input_range', rewrites: 'srq.rewrites' } as const;

export async function resolveModel(source: ModelProto, opts: ResolveOptions): Promise<ResolvedModel> {
  const name = opts.name ?? 'the model';
  const signature = checkSignature(source, name);
  // Exports without dynamic axes declare one input size; srq tiles at other sizes, so it declares H and W free.
  // Never edit the caller's model: srq's copy gets the rewrites and the metadata.
  const base = cloneModel(source);
  const rewrites: string[] = [];
  if (signature.fixedSize) {
    freeImageSize(base);
    rewrites.push(`input size ${signature.fixedSize.join('×')} declared fixed by the export → free height and width`);
  }
  let runner: Runner;
  try {
    runner = await opts.createRunner(encodeModel(base));
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    throw new ModelDescriptionError(`${name} does not load in ONNX Runtime (${why}); check the export (onnx.checker) or re-export it`);
  }
  try {
    const geometry = await measureGeometry(runner, name).catch((e: unknown) => {
      if (!signature.fixedSize || !(e instanceof ModelProbeError)) throw e;
      throw new ModelDescriptionError(`${name} was exported for ${signature.fixedSize.join('×')} inputs only and does not run at other sizes; re-export it with dynamic height and width (torch.onnx.export(..., dynamic_axes={'input': {2: 'h', 3: 'w'}}))`);
    });
    const { scale, border } = geometry;
    const wanted = opts.overrides?.scale;
    if (wanted !== undefined && wanted !== scale) {
      throw new ModelDescriptionError(`${name} upscales ×${scale} (measured: ${geometry.probed}), not ×${wanted}; drop the scale option, srq reads it from the graph`);
    }
    const notes: string[] = [];
    const cached = Number(getMetadata(source, META.scale));
    if (Number.isFinite(cached) && cached > 0 && cached !== scale) {
      notes.push(`its srq.scale metadata says ×${cached} but the graph upscales ×${scale}: srq uses ×${scale}`);
    }

    const range = await resolveRange(base, runner, { scale, border }, opts.overrides?.inputRange, notes, name);
    const overlap = await resolveOverlap(base, runner, { scale, border, range: range.value }, name);
    const model = range.value === 255 ? normalizeInputRange(base) : base;
    if (range.value === 255) rewrites.push('input range [0, 255] → [0, 1]: ×255 before the first op, ÷255 after the last');
    // A measured radius is only a lower bound on what tiles need: check that tiles really reproduce the whole image.
    const cachedWhole = getMetadata(source, META.wholeImage);
    const wholeImage =
      overlap.found === 'measured' ? !(await tilesMatchWhole(runner, { scale, border, overlap: overlap.value }))
      : overlap.found === 'metadata' ? cachedWhole === '1'
      : false;
    if (wholeImage) notes.push(`tiles do not reproduce ${name}'s whole-image output (its ops depend on where a tile starts), so it runs on whole images: memory grows with the image`);
    const description: ModelDescription = {
      scale,
      border,
      overlap: overlap.value,
      ...(wholeImage ? { wholeImage } : {}),
      found: { scale: 'probe', overlap: overlap.found, range: range.found },
      input: { name: signature.input, layout: 'NCHW', channels: 3 },
      output: { name: signature.output },
      sourceRange: range.value,
      rewrites,
      notes,
    };
    writeDescriptionCache(model, description);
    return { model, description };
  } finally {
    await runner.release();
  }
}

/** Records the description in `srq.*` metadata, so a model srq wrote states its facts (and a later run can check them). */
export function writeDescriptionCache(model: ModelProto, d: ModelDescription): void {
  setMetadata(model, META.scale, String(d.scale));
  setMetadata(model, META.border, String(d.border));
  setMetadata(model, META.overlap, String(d.overlap));
  if (d.wholeImage) setMetadata(model, META.wholeImage, '1');
  // srq's copy takes [0, 1] whatever the source took.
  setMetadata(model, META.range, '1');
  if (d.rewrites.length > 0) setMetadata(model, META.rewrites, d.rewrites.join('; '));
}

async function resolveRange(
  model: ModelProto,
  runner: Runner,
  geometry: { scale: number; border: number },
  override: 1 | 255 | undefined,
  notes: string[],
  name: string,
): Promise<{ value: 1 | 255; found: ModelDescription['found']['range'] }> {
  if (override !== undefined) return { value: override, found: 'override' };
  const cached = getMetadata(model, META.range);
  if (cached === '1' || cached === '255') return { value: Number(cached) as 1 | 255, found: 'metadata' };
  // srq's importers write srq.scale and always emit the [0, 1] contract.
  if (getMetadata(model, META.scale) !== undefined) return { value: 1, found: 'metadata' };
  const measured = await measureInputRange(runner, geometry);
  if (!measured.conclusive) {
    notes.push(
      `${name}'s output looks like no upscaled picture whether fed [0, 1] (${measured.psnr[1].toFixed(1)} dB vs bicubic) ` +
        `or [0, 255] (${measured.psnr[255].toFixed(1)} dB): srq assumes [0, 1]; set the input range if the model takes 0–255`,
    );
    return { value: 1, found: 'assumed' };
  }
  return { value: measured.range, found: 'probe' };
}

async function resolveOverlap(
  model: ModelProto,
  runner: Runner,
  probe: { scale: number; border: number; range: 1 | 255 },
  name: string,
): Promise<{ value: number; found: ModelDescription['found']['overlap'] }> {
  const cached = Number(getMetadata(model, META.overlap));
  if (Number.isInteger(cached) && cached >= 0 && getMetadata(model, META.overlap) !== undefined) return { value: cached, found: 'metadata' };
  try {
    const field = receptiveField(model);
    // A walk that disagrees with the measured scale misread an op: trust the measurement instead.
    if (Math.abs(field.scale - probe.scale) < 1e-9) {
      // The walk places output px j at input j/s; tiling places it at (j + border)/s, the centre of what it sees.
      const shift = probe.border / probe.scale;
      return { value: Math.max(0, Math.ceil(Math.max(field.before + shift, field.after - shift) - 1e-6)), found: 'graph' };
    }
  } catch (e) {
    if (!(e instanceof ReceptiveFieldError)) throw e;
  }
  // Measure in [0, 1] units whatever the model takes, so the threshold means the same.
  const r = probe.range;
  const run = async (input: Float32Array, dims: readonly number[]) => {
    if (r === 1) return runner.run(input, dims);
    const out = await runner.run(input.map((v) => v * r), dims);
    return { data: out.data.map((v) => v / r), dims: out.dims };
  };
  return { value: await measureRadius(run, probe, name), found: 'measured' };
}

/** The description in one line, for logs and `srq info`. */
export function describeLine(d: ModelDescription): string {
  const range = d.sourceRange === 255 ? 'RGB in [0, 255], rewritten to [0, 1]' : 'RGB in [0, 1]';
  return (
    `×${d.scale}, border ${d.border} px (out = ${d.scale}·in${d.border ? ` − ${2 * d.border}` : ''}), ` +
    `receptive field ${d.overlap} px (${d.found.overlap}), ${range} (${d.found.range})`
  );
}
