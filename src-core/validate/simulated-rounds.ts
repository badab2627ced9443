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
  /** MSE of the 8-bit output against the all-float output (levels², over every pixel of every photo). */
  mse: number;
}

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

  /** The model with the layers at these indices float, every other layer int8. */
  async score(floatLayers: Iterable<number>): Promise<SimulatedScore> {
    const mask = new Float32Array(this.layers.length).fill(1);
    for (const i of floatLayers) mask[i] = 0;
    const drops: number[] = [];
    const fidelities: number[] = [];
    let squares = 0;
    let count = 0;
    for (const [i, img] of this.images.entries()) {
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
   * Layers, most harmful first, by what keeping them float takes off the all-int8 output's MSE. Up to 24 layers, each
   * is measured; deeper models are cut into √n contiguous blocks (in graph order, so a block is a stretch of the
   * network), each block measured, then the layers of the worst blocks, until the blocks looked into cover
   * `share` (the part of the error the budget needs removed) with room to spare. A layer in a block not looked into
   * gets an equal part of its block's gain.
   */
  async rank(share: number): Promise<{ ranking: (Layer & { error: number })[]; allInt8: SimulatedScore }> {
    const n = this.layers.length;
    const blocks = n <= 24 ? this.layers.map((_, i) => [i]) : contiguousBlocks(n, Math.ceil(Math.sqrt(n)));
    const progress = stepProgress('ranking layers (simulated):', blocks.length + 1, this.opts.onProgress);
    const allInt8 = await this.score([]);
    progress(1, 'all int8');
    const gainOf = async (floatLayers: readonly number[]) => Math.max(0, allInt8.mse - (await this.score(floatLayers)).mse);
    const blockGains: number[] = [];
    for (const [b, block] of blocks.entries()) {
      blockGains.push(await gainOf(block));
      progress(b + 2, `block ${b + 1}/${blocks.length}`);
    }
    const error = new Float64Array(n);
    blocks.forEach((block, b) => block.forEach((i) => (error[i] = blockGains[b]! / block.length)));
    if (blocks.some((b) => b.length > 1)) {
      const total = blockGains.reduce((a, b) => a + b, 0);
      const order = blockGains.map((g, b) => [g, b] as const).sort((x, y) => y[0] - x[0]).map(([, b]) => b);
      const expand: number[] = [];
      let covered = 0;
      for (const b of order) {
        if (expand.length >= 2 && covered >= Math.min(1, 1.5 * share) * total) break;
        expand.push(b);
        covered += blockGains[b]!;
      }
      const inside = stepProgress('ranking layers in the worst blocks (simulated):', expand.reduce((k, b) => k + blocks[b]!.length, 0), this.opts.onProgress);
      let done = 0;
      for (const b of expand) {
        for (const i of blocks[b]!) {
          error[i] = await gainOf([i]);
          inside(++done, this.layers[i]!.layer);
        }
      }
    }
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
