// Reads the uploaded image from a request and checks it from its header alone: the type (415), the
// bytes (400) and the pixel budget (413) are all settled before a single pixel is decoded.
import { ImageDecodeError, ImageFormatError, readImageHeader, type ImageHeader } from '../src-core/image/index.ts';
import { ApiError } from './errors.ts';

const IMAGE_TYPES: Record<string, ImageHeader['format']> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
};

export interface Upload {
  bytes: Uint8Array;
  header: ImageHeader;
}

/** The image from a raw PNG/JPEG body or from the multipart field `image`. */
export async function readUpload(req: Request): Promise<Upload> {
  const type = mediaType(req.headers.get('content-type'));
  let bytes: Uint8Array;
  let declared: string;
  if (type in IMAGE_TYPES) {
    bytes = new Uint8Array(await req.arrayBuffer());
    declared = type;
  } else if (type === 'multipart/form-data') {
    let form: FormData;
    try {
      form = await req.formData();
    } catch {
      throw new ApiError(400, 'bad_multipart', 'the multipart body cannot be parsed; send a form with a file field named "image"');
    }
    const file = form.get('image');
    if (file === null || typeof file === 'string') {
      throw new ApiError(400, 'missing_image', 'the form has no file field named "image"; attach the picture as "image"');
    }
    bytes = new Uint8Array(await file.arrayBuffer());
    // Browsers send '' or application/octet-stream when they cannot tell: then the bytes decide.
    declared = mediaType(file.type);
  } else {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `Content-Type ${type || '(none)'} is not accepted; send image/png or image/jpeg, or multipart/form-data with an "image" field`,
    );
  }
  if (bytes.length === 0) throw new ApiError(400, 'empty_image', 'the image is empty (0 bytes); send a PNG or JPEG file');
  const header = sniff(bytes);
  const claimed = IMAGE_TYPES[declared];
  if (claimed && claimed !== header.format) {
    throw new ApiError(415, 'type_mismatch', `Content-Type says ${declared} but the bytes are a ${header.format.toUpperCase()}; send the matching Content-Type`);
  }
  if (!claimed && declared !== '' && declared !== 'application/octet-stream') {
    throw new ApiError(415, 'unsupported_media_type', `the "image" field is ${declared}; only PNG and JPEG are accepted`);
  }
  return { bytes, header };
}

function sniff(bytes: Uint8Array): ImageHeader {
  try {
    return readImageHeader(bytes);
  } catch (e) {
    if (e instanceof ImageFormatError) throw new ApiError(415, 'unsupported_media_type', e.message);
    if (e instanceof ImageDecodeError) throw new ApiError(400, 'undecodable_image', e.message);
    throw e;
  }
}

function mediaType(header: string | null | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/** 413 unless the input and the s× output both fit the pixel budgets. */
export function checkPixels(header: ImageHeader, scale: number, maxInput: number, maxOutput: number): void {
  const { width, height } = header;
  if (width * height > maxInput) {
    throw new ApiError(413, 'image_too_large', `the image is ${width}x${height} (${width * height} px), over the limit of ${maxInput} px; send a smaller image`);
  }
  const out = width * scale * height * scale;
  if (out > maxOutput) {
    throw new ApiError(
      413,
      'output_too_large',
      `upscaling ${width}x${height} by ${scale} gives ${out} px, over the output limit of ${maxOutput} px; send a smaller image or use a model with a smaller scale`,
    );
  }
}
