// The accuracy-aware search's cheap rounds: any set of layers kept float, scored on the search photos by one run of
// one session of the quantization simulation (quantize/simulation.ts), not by quantizing and loading a model. The
// reference is the same session with every layer float, so one model is loaded for the whole search.
// Layers are ranked hierarchically, so the cost grows with √depth, not depth: contiguous blocks of layers first,
// then layer by layer inside the blocks that matter. Runtime-agnostic.
import type { RasterImage } from '../image/raster.ts';
import type { ModelDescription } from '../model/description.ts';
import { encodeModel } from '../onnx/model.ts';
import { stepProgress } from '../progress.ts';
import { LAYER_MASK, simulationModel } from '../quantize/simulation.ts';
import type { StaticQuantizeResult } from '../quantize/static.ts';
import { withInputs, type Runner } from '../runtime/runner.ts';
import { tileSizeFor, upscaleImage } from '../tiling/upscale.ts';
import { mean, prepareEvalImages, scoreOutputs, type EvalImage, type ImageScores } from './evaluate.ts';

export interface Layer { layer: string; nodes: string[]; opType: string }

/** One simulated round: the model with these layers float, scored on the search photos. */
export interface SimulatedScore {
  /** Mean drop of the gate metric against the all-float output (ground truth scored), and the worst image's. */
  drop: number;
  worstImageDrop: number;
  /** Mean RGB PSNR against the all-float output (dB). */
  fidelity: number;
  /** MSE of the 8-bit output against the all-float output (levels², over every pixel of the photos scored). */
  mse: number;
}

/** A stretch of consecutive layers (by index), and the error it adds alone (measured together). */
interface Unit { layers: number[]; error: number }

export interface SimulationOptions {
  images: readonly { name: string; image: RasterImage }[];
  createRunner: (model: Uint8Array) => Promise<Runner>;
  description: ModelDescription;
  tileSize?: number;
  /** The metric's drop from one image's scores (reference, candidate). */
  drop: (reference: ImageScores, candidate: ImageScores) => number;
  onProgress?: (message: string) => void;
}

export class SimulatedRounds {
  /** Simulated runs so far (each one pass over the search photos). */
  runs = 0;

  private constructor(
    private readonly runner: Runner,
    private readonly layers: readonly Layer[],
    private readonly images: readonly EvalImage[],
    private readonly reference: readonly RasterImage[],
    private readonly referenceScores: readonly ImageScores[],
    private readonly opts: SimulationOptions,
  ) {}

  static async create(first: StaticQuantizeResult, layers: readonly Layer[], opts: SimulationOptions): Promise<SimulatedRounds> {
    opts.onProgress?.(`simulation: loading the model with ${layers.length} switchable layers`);
    const runner = await opts.createRunner(encodeModel(simulationModel(first, layers)));
    const images = prepareEvalImages(opts.images, opts.description.scale);
    const floatMask = new Float32Array(layers.length);
    const reference: RasterImage[] = [];
    try {
      for (const img of images) reference.push(await upscale(runner, floatMask, img.lr, opts));
    } catch (e) {
      await runner.release();
      throw e;
    }
    return new SimulatedRounds(runner, layers, images, reference, scoreOutputs(images, reference, opts.description.scale), opts);
  }

  /** The model with the layers at these indices float, every other layer int8, on the first `photos` photos. */
  async score(floatLayers: Iterable<number>, photos = this.images.length): Promise<SimulatedScore> {
    const mask = new Float32Array(this.layers.length).fill(1);
    for (const i of floatLayers) mask[i] = 0;
    const drops: number[] = [];
    const fidelities: number[] = [];
    let squares = 0;
    let count = 0;
    for (const [i, img] of this.images.slice(0, photos).entries()) {
      const out = await upscale(this.runner, mask, img.lr, this.opts);
      const ref = this.reference[i]!;
      for (let j = 0; j < out.data.length; j++) squares += (out.data[j]! - ref.data[j]!) ** 2;
      count += out.data.length;
      const [s] = scoreOutputs([img], [out], this.opts.description.scale, [ref]);
      drops.push(this.opts.drop(this.referenceScores[i]!, s!));
      fidelities.push(s!.fidelity!);
    }
    this.runs++;
    return { drop: mean(drops), worstImageDrop: Math.max(...drops), fidelity: mean(fidelities), mse: squares / count };
  }

  /**
   * Layers, most harmful first, by the error each adds alone: the MSE of the 8-bit output against the all-float one
   * with only that layer int8. Alone, not "all int8 but this one": a tensor stays quantized while any layer that
   * touches it is int8, so leaving out one of two such layers shows nothing. Up to 24 layers, each is measured on
   * every search photo. A deeper model is cut into √n contiguous blocks (graph order, so a block is a stretch of
   * the network), each measured on a third of the photos (ranking only orders; the search's rounds judge on all);
   * then, within √n / 2 more runs, the most harmful block among those the budget needs (the fewest covering 1.5 ×
   * `share` of the error, `share` being the part to remove) is cut again into √size parts, and so on. A layer gets
   * an equal part of the error of the smallest stretch measured around it.
   */
  async rank(share: number): Promise<{ ranking: (Layer & { error: number })[]; allInt8: SimulatedScore }> {
    const n = this.layers.length;
    const photos = n <= 24 ? this.images.length : Math.ceil(this.images.length / 3);
    const allInt8 = await this.score([]);
    const indices = this.layers.map((_, i) => i);
    let units: Unit[] = (n <= 24 ? indices.map((i) => [i]) : contiguousBlocks(n, Math.ceil(Math.sqrt(n))).map((b) => b.map((j) => indices[j]!)))
      .map((layers) => ({ layers, error: 0 }));
    let refinements = n <= 24 ? 0 : Math.ceil(Math.sqrt(n) / 2);
    const progress = stepProgress('ranking layers (simulated):', units.length + refinements, this.opts.onProgress);
    let runs = 0;
    const measure = async (unit: Unit) => {
      const alone = new Set(unit.layers);
      unit.error = (await this.score(indices.filter((i) => !alone.has(i)), photos)).mse;
      progress(++runs, this.layers[unit.layers[0]!]!.layer);
    };
    for (const unit of units) await measure(unit);
    for (;;) {
      units.sort((x, y) => y.error - x.error);
      const total = units.reduce((g, u) => g + u.error, 0);
      let covered = 0;
      let needed = 0;
      while (needed < units.length && (needed < 2 || covered < Math.min(1, 1.5 * share) * total)) covered += units[needed++]!.error;
      const split = units.slice(0, needed).find((u) => u.layers.length > 1);
      if (!split) break;
      const parts = contiguousBlocks(split.layers.length, Math.ceil(Math.sqrt(split.layers.length))).map((b) => ({ layers: b.map((j) => split.layers[j]!), error: 0 }));
      if (parts.length > refinements) break;
      refinements -= parts.length;
      for (const part of parts) await measure(part);
      units = [...units.filter((u) => u !== split), ...parts];
    }
    const error = new Float64Array(n);
    for (const u of units) for (const i of u.layers) error[i] = u.error / u.layers.length;
    // Ties (one stretch's layers) stay in graph order.
    const ranking = this.layers.map((l, i) => ({ ...l, error: error[i]! }));
    return { ranking: ranking.sort((a, b) => b.error - a.error), allInt8 };
  }

  async release(): Promise<void> {
    await this.runner.release();
  }
}

/** n layer indices cut into `count` contiguous blocks of near-equal size. */
export function contiguousBlocks(n: number, count: number): number[][] {
  const k = Math.max(1, Math.min(n, count));
  return Array.from({ length: k }, (_, b) => {
    const [from, to] = [Math.floor((b * n) / k), Math.floor(((b + 1) * n) / k)];
    return Array.from({ length: to - from }, (_, j) => from + j);
  });
}

function upscale(runner: Runner, mask: Float32Array, lr: RasterImage, opts: SimulationOptions): Promise<RasterImage> {
  const d = opts.description;
  const masked = withInputs(runner, { [LAYER_MASK]: { data: mask, dims: [mask.length] } });
  const tileSize = d.wholeImage ? 0 : tileSizeFor(d, opts.tileSize);
  return upscaleImage(masked, lr, { scale: d.scale, border: d.border, overlap: d.overlap, wholeImage: d.wholeImage === true, tileSize });
}
