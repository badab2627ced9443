// Every image failure is an ImageError, so callers (CLI, edge worker) can map the whole family to a
// "bad image" response with one `instanceof` check and show the one-line message as is.

export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The bytes are neither PNG nor JPEG. */
export class ImageFormatError extends ImageError {}

/** The bytes claim to be PNG/JPEG but are corrupt, truncated or use an unsupported feature. */
export class ImageDecodeError extends ImageError {}

/** width × height exceeds the caller's pixel budget (detected from the header, before decoding). */
export class ImageTooLargeError extends ImageError {
  readonly width: number;
  readonly height: number;
  readonly maxPixels: number;

  constructor(width: number, height: number, maxPixels: number) {
    super(
      `image is ${width}x${height} (${(width * height / 1e6).toFixed(1)} MP), over the limit of ` +
        `${(maxPixels / 1e6).toFixed(1)} MP (${maxPixels} pixels); resize it first or raise maxPixels`,
    );
    this.width = width;
    this.height = height;
    this.maxPixels = maxPixels;
  }
}

/** A RasterImage is malformed, or an argument (crop box, target size, scale) is out of range. */
export class ImageArgumentError extends ImageError {}

/** The image cannot be encoded in the requested format. */
export class ImageEncodeError extends ImageError {}
