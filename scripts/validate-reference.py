#!/usr/bin/python3
"""Reference numbers for test/validate-reference.test.ts: scikit-image's PSNR/SSIM on the image pairs
`srq validate` scores, computed independently of srq's TypeScript metrics.

Run with Debian's python (apt-get install python3-skimage python3-pil) from the repository root, after
writing the PNG fixtures (see test/fixtures/validate/fixtures.ts):

    /usr/bin/python3 scripts/validate-reference.py

It reads test/fixtures/validate/{gt,lr/x<s>,out/<model>}/*.png and writes test/fixtures/validate/reference.json:

* "outputs": for every model output, PSNR-Y, PSNR-RGB and SSIM-Y against the ground truth with `scale`
  pixels cropped from every border (BasicSR convention, same skimage settings as scripts/metrics-reference.py:
  Y = rgb2ycbcr(...)[..., 0]; SSIM with gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=255).
* "fidelity": RGB PSNR of a candidate's output against the reference model's output, whole image.
* "bicubic": the same metrics for bicubic upscaling of the LR input, made here with the numpy MATLAB/BasicSR
  imresize port of scripts/metrics-reference.py (not with srq's resize).
* "lr": how far srq's LR inputs (lr/x<s>) are from that numpy port's bicubic downscaling (max |diff| in
  8-bit levels, share of differing values): the kernel check, MATLAB imresize bicubic with antialiasing.
"""

import importlib.util
import json
import os

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'test', 'fixtures', 'validate')

spec = importlib.util.spec_from_file_location('metrics_reference', os.path.join(ROOT, 'scripts', 'metrics-reference.py'))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)

SCALES = {'esrgan-slim-x2': 2, 'esrgan-slim-x3': 3, 'esrgan-slim-x4': 4, 'esrgan-slim-x8': 8,
          'esrgan-medium-x4': 4, 'esrgan-slim-x4-int8': 4}
# Candidate -> the reference its fidelity is measured against.
FIDELITY = {'esrgan-slim-x4-int8': 'esrgan-slim-x4', 'esrgan-medium-x4': 'esrgan-slim-x4'}


def load(*parts):
    return np.asarray(Image.open(os.path.join(FIXTURES, *parts)).convert('RGB'))


def gt_metrics(gt, out, crop):
    m = ref.skimage_metrics(gt, out, crop)
    return {'psnr_y': m['psnr_y'], 'psnr_rgb': m['psnr_rgb'], 'ssim_y': m['ssim_y']}


def main():
    images = sorted(os.listdir(os.path.join(FIXTURES, 'gt')))
    result = {
        'generator': 'scripts/validate-reference.py',
        'skimage': ref.skimage.__version__,
        'outputs': {}, 'fidelity': {}, 'bicubic': {}, 'lr': {},
    }
    for scale in sorted(set(SCALES.values())):
        diffs, count, total = 0, 0, 0
        for name in images:
            gt = load('gt', name)
            h, w = gt.shape[:2]
            lr = load('lr', f'x{scale}', name)
            mine = ref.imresize(gt, w // scale, h // scale)
            d = np.abs(lr.astype(int) - mine.astype(int))
            diffs, count, total = max(diffs, int(d.max())), count + int((d > 0).sum()), total + d.size
            up = ref.imresize(lr, w, h)
            result['bicubic'].setdefault(f'x{scale}', {})[name] = gt_metrics(gt, up, scale)
        result['lr'][f'x{scale}'] = {'max_abs_diff': diffs, 'share_differing': count / total}
    for model, scale in SCALES.items():
        for name in images:
            result['outputs'].setdefault(model, {})[name] = gt_metrics(load('gt', name), load('out', model, name), scale)
    for cand, base in FIDELITY.items():
        for name in images:
            p = peak_signal_noise_ratio(load('out', base, name), load('out', cand, name), data_range=255)
            result['fidelity'].setdefault(cand, {})[name] = ref.finite(p)
    with open(os.path.join(FIXTURES, 'reference.json'), 'w') as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write('\n')
    print(json.dumps(result['lr']))


if __name__ == '__main__':
    main()
