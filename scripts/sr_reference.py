"""What the reference scripts share: a PNG reader (no PIL) and BasicSR's RRDBNet, written here from its public
design (BSD-3-Clause). export-corpus.py trains a small RRDBNet from scratch; ncnn-reference.py loads Real-ESRGAN
x4plus's ncnn weights into the full-size one. Imported by those scripts (run from the repository root).
"""
import struct
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------------------------
# PNG reading (8-bit gray / RGB / RGBA, non-interlaced): [3,h,w] float32 in [0,1].

def read_png(path):
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', path
    pos, idat = 8, []
    while pos < len(data):
        (length,) = struct.unpack('>I', data[pos:pos + 4])
        kind, chunk = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b'IHDR':
            w, h, depth, ctype, _, _, interlace = struct.unpack('>IIBBBBB', chunk)
        elif kind == b'IDAT':
            idat.append(chunk)
        elif kind == b'IEND':
            break
    assert depth == 8 and interlace == 0 and ctype in (0, 2, 6), (path, depth, ctype, interlace)
    ch = {0: 1, 2: 3, 6: 4}[ctype]
    raw = zlib.decompress(b''.join(idat))
    stride = w * ch
    img = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        if ft == 0:
            cur = line
        elif ft == 2:
            cur = (line + prev) & 255
        else:
            cur = np.zeros(stride, np.int32)
            for x in range(stride):
                left = cur[x - ch] if x >= ch else 0
                up = prev[x]
                if ft == 1:
                    v = left
                elif ft == 3:
                    v = (left + up) >> 1
                else:  # Paeth
                    ul = prev[x - ch] if x >= ch else 0
                    p = left + up - ul
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                    v = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
                cur[x] = (line[x] + v) & 255
        img[y] = cur
        prev = cur
    img = img.reshape(h, w, ch)
    if ch == 1:
        img = np.repeat(img, 3, axis=2)
    img = img[:, :, :3].astype(np.float32) / 255.0
    return torch.from_numpy(img).permute(2, 0, 1).contiguous()


# ---------------------------------------------------------------------------------------------------------------
# RRDBNet (BasicSR rrdbnet_arch): ESRGAN / Real-ESRGAN's generator, x4 by two nearest x2 interpolations.

def scaled_init(modules, scale):
    """BasicSR's default_init_weights: kaiming normal, scaled (0.1 for residual blocks), zero bias."""
    for m in modules:
        for mm in m.modules():
            if isinstance(mm, nn.Conv2d):
                nn.init.kaiming_normal_(mm.weight)
                mm.weight.data *= scale
                nn.init.zeros_(mm.bias)


class ResidualDenseBlock(nn.Module):
    def __init__(self, nf, gc, init_scale=None):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2)
        if init_scale is not None:
            scaled_init([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], init_scale)

    def forward(self, x):
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, nf, gc, init_scale=None):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(nf, gc, init_scale)
        self.rdb2 = ResidualDenseBlock(nf, gc, init_scale)
        self.rdb3 = ResidualDenseBlock(nf, gc, init_scale)

    def forward(self, x):
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """num_feat=64, num_block=23, num_grow_ch=32 is Real-ESRGAN x4plus. init_scale: BasicSR's residual-block
    initialisation (0.1) for training from scratch; None keeps PyTorch's default (weights loaded afterwards)."""

    def __init__(self, num_feat=64, num_block=23, num_grow_ch=32, init_scale=None):
        super().__init__()
        self.conv_first = nn.Conv2d(3, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch, init_scale) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2)

    def forward(self, x):
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode='nearest')))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode='nearest')))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))
