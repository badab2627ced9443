// Tiled SR inference over any Runner, and the receptive field that sizes the tiles' overlap.
export { DEFAULT_TILE_SIZE, MIN_TILE_CORE, tileContext, tileSizeFor, upscaleImage, type UpscaleOptions } from './upscale.ts';
export { receptiveField, receptiveFieldRadius, ReceptiveFieldError, type ReceptiveField } from './receptive-field.ts';
export { planAxis, planTiles, TilePlanError, type AxisSpan, type Tile, type TileSize } from './tile-plan.ts';
export { DeadlineError, ModelOutputShapeError, TilingOptionsError } from './errors.ts';
