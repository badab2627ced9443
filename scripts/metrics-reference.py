#!/usr/bin/python3
"""Reference data for srq's resize and metrics tests (test/image-resize.test.ts, test/metrics.test.ts).

Run with Debian's python (apt-get install python3-skimage python3-pil), from the repository root:

    /usr/bin/python3 scripts/metrics-reference.py

It writes small PNG fixtures and test/fixtures/metrics/reference.json, all committed, so the
TypeScript tests never need python.

* HR crops of the photos in images/, and for each an LR image made by bicubic downscaling and an
  "upscaled" image (LR bicubic-upscaled back to HR size). Both use the numpy port of MATLAB/BasicSR
  `imresize` below, written independently of the TypeScript code (vectorised, float64). PIL's
  BICUBIC (same Keys a=-0.5 kernel, its own code) is compared in float mode as a second opinion:
  it agrees to ~1e-5 away from the edges (it treats edges differently by design); see
  "pil_bicubic_vs_matlab_port" in the JSON.
* Degraded versions (bicubic round trip, PIL JPEG q=30, seeded Gaussian noise, 1-pixel shift).
* For every (reference, test) pair: PSNR (RGB and Y) with skimage.metrics.peak_signal_noise_ratio
  and SSIM (Y and RGB) with skimage.metrics.structural_similarity, after cropping `crop` pixels on
  every side (BasicSR crop_border).

Conventions (BasicSR calculate_psnr / calculate_ssim):
* Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 = skimage.color.rgb2ycbcr(img)[..., 0].
* SSIM: skimage with gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
  (11x11 window, C1=(0.01*255)^2, C2=(0.03*255)^2). skimage filters the whole image (reflect mode)
  and then crops (win_size-1)//2 = 5 pixels per side, which is exactly BasicSR's 'valid' region, so
  the numbers agree. The script checks that with an independent 'valid' implementation
  (scipy.ndimage.correlate + explicit crop, as BasicSR's cv2.filter2D(...)[5:-5, 5:-5]) and
  records the largest difference. (skimage's *defaults* differ: 7x7 uniform window and sample
  covariance; never use them for SR numbers.)
"""

import hashlib
import io
import json
import os

import numpy as np
import scipy.ndimage
import skimage
from PIL import Image
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGES = os.path.join(ROOT, 'images')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'metrics')


# ---------------------------------------------------------------- MATLAB / BasicSR bicubic imresize

def cubic(x):
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def contributions(in_len, out_len, antialias=True):
    """Weights (out_len, taps) and 0-based source indices, as MATLAB contributions()."""
    scale = out_len / in_len
    if scale < 1 and antialias:
        kernel_width = 4.0 / scale
        kernel = lambda d: scale * cubic(d * scale)
    else:
        kernel_width = 4.0
        kernel = cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    p = int(np.ceil(kernel_width)) + 2
    ind = left[:, None] + np.arange(p)[None, :]  # 1-based
    w = kernel(u[:, None] - ind)
    w = w / w.sum(axis=1, keepdims=True)
    # MATLAB 'symmetric' padding: aux = [1:n, n:-1:1], index = aux(mod(i - 1, 2n) + 1)
    aux = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    ind = aux[np.mod(ind.astype(np.int64) - 1, 2 * in_len)]
    keep = np.any(w != 0, axis=0)
    return w[:, keep], ind[:, keep]


def resize_axis(img, out_len, axis):
    w, ind = contributions(img.shape[axis], out_len)
    moved = np.moveaxis(img, axis, 0)  # (in_len, ...)
    out = np.einsum('ok,ok...->o...', w, moved[ind])
    return np.moveaxis(out, 0, axis)


def resize_float(img, out_w, out_h):
    """HxWxC -> float64 HxWxC, no rounding."""
    img = img.astype(np.float64)
    h, w = img.shape[:2]
    if out_h / h <= out_w / w:  # MATLAB: smaller scale first, height first on ties
        return resize_axis(resize_axis(img, out_h, 0), out_w, 1)
    return resize_axis(resize_axis(img, out_w, 1), out_h, 0)


def imresize(img_u8, out_w, out_h):
    """uint8 HxWxC -> uint8, float64 intermediate, one rounding (half up) at the end."""
    return np.clip(np.floor(resize_float(img_u8, out_w, out_h) + 0.5), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- metrics

def y_channel(img):
    return rgb2ycbcr(img)[..., 0]  # float64, [16, 235]


def crop_border(img, c):
    return img[c:img.shape[0] - c, c:img.shape[1] - c] if c > 0 else img


def finite(v):
    return None if np.isinf(v) else float(v)


def skimage_metrics(ref, test, crop):
    a, b = crop_border(ref, crop), crop_border(test, crop)
    ya, yb = y_channel(a), y_channel(b)
    ssim_args = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    with np.errstate(divide='ignore'):
        psnr_rgb = peak_signal_noise_ratio(a, b, data_range=255)
        psnr_y = peak_signal_noise_ratio(ya, yb, data_range=255)
    return {
        'psnr_rgb': finite(psnr_rgb),
        'psnr_y': finite(psnr_y),
        'ssim_y': float(structural_similarity(ya, yb, **ssim_args)),
        'ssim_rgb': float(structural_similarity(a.astype(np.float64), b.astype(np.float64), channel_axis=2, **ssim_args)),
    }


def basicsr_ssim_valid(x, y):
    """BasicSR _ssim: Gaussian window, statistics only where the window fits ('valid')."""
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()
    win = np.outer(g, g)
    f = lambda im: scipy.ndimage.correlate(im, win, mode='constant')[5:-5, 5:-5]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())


# ---------------------------------------------------------------- fixtures

def load_rgb(name):
    return np.asarray(Image.open(os.path.join(IMAGES, name)).convert('RGB'))


def save_png(arr, name):
    Image.fromarray(arr).save(os.path.join(OUT, name), optimize=True)
    return name


def jpeg_roundtrip(arr, quality):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format='JPEG', quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert('RGB'))


# (source, x, y, w, h, scale). Sizes are deliberately small (repo size, test speed) and some are
# not multiples of the scale so the mod-crop is exercised.
CROPS = [
    ('astronaut', 'astronaut.png', 176, 40, 144, 120, 4),
    ('chelsea', 'chelsea.png', 140, 60, 134, 109, 3),
    ('coffee', 'coffee.png', 190, 110, 128, 96, 2),
    ('brick', 'brick.png', 40, 40, 98, 98, 4),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240601)
    resize_cases, pairs, pil_notes = [], [], []
    for name, src, x, y, w, h, scale in CROPS:
        crop = load_rgb(src)[y:y + h, x:x + w]
        hr_file = save_png(crop, f'{name}-hr.png')
        hm, wm = h - h % scale, w - w % scale
        hr = crop[:hm, :wm]  # BasicSR mod_crop
        lr = imresize(hr, wm // scale, hm // scale)
        up = imresize(lr, wm, hm)
        resize_cases.append({
            'name': name, 'hr': hr_file, 'scale': scale,
            'hr_size': [wm, hm],
            'lr': save_png(lr, f'{name}-lr-x{scale}.png'),
            'up': save_png(up, f'{name}-up-x{scale}.png'),
        })

        # Second opinion: PIL BICUBIC (same Keys a=-0.5 kernel, stretched when shrinking). Compared
        # in PIL's float mode ('F'), because its 8-bit mode rounds and clips between the two passes.
        # PIL renormalises truncated kernels at the edges instead of mirroring, so the edge pixels
        # differ by design; "interior" excludes pixels whose kernel reaches the edge.
        def pil_float(img, size):
            return np.stack([np.asarray(Image.fromarray(img[..., c].astype(np.float32), 'F').resize(size, Image.BICUBIC))
                             for c in range(img.shape[2])], axis=-1).astype(np.float64)
        lr_f = resize_float(hr, wm // scale, hm // scale)
        up_f = resize_float(lr, wm, hm)
        d_lr = np.abs(pil_float(hr, (wm // scale, hm // scale)) - lr_f)
        d_up = np.abs(pil_float(lr, (wm, hm)) - up_f)
        b = 2 * scale
        pil_notes.append({
            'name': name,
            'lr_interior_max_abs_diff': float(d_lr[3:-3, 3:-3].max()), 'lr_edge_max_abs_diff': float(d_lr.max()),
            'up_interior_max_abs_diff': float(d_up[b:-b, b:-b].max()), 'up_edge_max_abs_diff': float(d_up.max()),
        })

        noisy = np.clip(hr.astype(np.float64) + rng.normal(0, 8, hr.shape), 0, 255).round().astype(np.uint8)
        shifted = np.concatenate([hr[:, 1:], hr[:, -1:]], axis=1)  # one pixel left, edge repeated
        tests = [
            ('bicubic', save_png(up, f'{name}-up-x{scale}.png'), scale),
            ('jpeg-q30', save_png(jpeg_roundtrip(hr, 30), f'{name}-jpeg-q30.png'), scale),
            ('noise-s8', save_png(noisy, f'{name}-noise-s8.png'), 0),
            ('shift-1px', save_png(shifted, f'{name}-shift-1px.png'), 2),
            ('identical', None, scale),
        ]
        for kind, test_file, crop_px in tests:
            test = hr if test_file is None else np.asarray(Image.open(os.path.join(OUT, test_file)).convert('RGB'))
            m = skimage_metrics(hr, test, crop_px)
            a, t = crop_border(hr, crop_px), crop_border(test, crop_px)
            m['ssim_y_basicsr_valid'] = basicsr_ssim_valid(y_channel(a), y_channel(t))
            pairs.append({'name': f'{name}/{kind}', 'reference': hr_file, 'reference_size': [wm, hm],
                          'test': test_file, 'crop': crop_px, **m})

    # Non-integer, unequal x/y ratios (one axis shrinks, the other grows) exercise the pass order.
    astronaut_hr = np.asarray(Image.open(os.path.join(OUT, 'astronaut-hr.png')).convert('RGB'))
    odd_sizes = [(97, 71), (211, 50)]
    odd_cases = []
    for w, h in odd_sizes:
        odd_cases.append({'source': 'astronaut-hr.png', 'size': [w, h],
                          'file': save_png(imresize(astronaut_hr, w, h), f'astronaut-resized-{w}x{h}.png')})

    # PIL's decode of the JPEG photo (libjpeg: accurate IDCT, fancy chroma upsampling) for the codec test.
    rocket = np.asarray(Image.open(os.path.join(IMAGES, 'rocket.jpg')).convert('RGB'))
    rocket_crop = {'x': 256, 'y': 96, 'w': 96, 'h': 96}
    save_png(rocket[96:192, 256:352], 'rocket-pil-decode.png')

    # PNG decoding is lossless: our decoder must reproduce PIL's RGB bytes exactly.
    png_sha256 = {}
    for name in sorted(os.listdir(IMAGES)):
        if name.endswith('.png'):
            png_sha256[name] = hashlib.sha256(load_rgb(name).tobytes()).hexdigest()

    diff = max(abs(p['ssim_y'] - p['ssim_y_basicsr_valid']) for p in pairs)
    reference = {
        'generator': 'scripts/metrics-reference.py',
        'versions': {'skimage': skimage.__version__, 'numpy': np.__version__, 'PIL': Image.__version__},
        'resize': resize_cases,
        'resize_odd': odd_cases,
        'pil_bicubic_vs_matlab_port': pil_notes,
        'pairs': pairs,
        'ssim_skimage_vs_basicsr_valid_max_abs_diff': diff,
        'png_rgb_sha256': png_sha256,
        'rocket_pil_decode': {'file': 'rocket-pil-decode.png', **rocket_crop},
    }
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        json.dump(reference, f, indent=1, allow_nan=False)
        f.write('\n')
    print(f'wrote {len(pairs)} pairs, {len(resize_cases)} resize cases; '
          f'skimage vs BasicSR-valid SSIM max diff {diff:.2e}')
    for n in pil_notes:
        print('PIL vs MATLAB port', n)


if __name__ == '__main__':
    main()
