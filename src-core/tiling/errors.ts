export class DeadlineError extends Error {
  override name = 'DeadlineError';
  readonly tilesDone: number;
  readonly tilesTotal: number;
  constructor(tilesDone: number, tilesTotal: number) {
    super(
      `deadline passed after ${tilesDone} of ${tilesTotal} tiles; allow more time, use a smaller image or a faster model`,
    );
    this.tilesDone = tilesDone;
    this.tilesTotal = tilesTotal;
  }
}

export class TilingOptionsError extends Error {
  override name = 'TilingOptionsError';
}

/** The model broke the srq contract (output must be [1,3,s*h,s*w]). */
export class ModelOutputShapeError extends Error {
  override name = 'ModelOutputShapeError';
}
