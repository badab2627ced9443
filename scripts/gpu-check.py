#!/usr/bin/env python3
"""The GPU path of srq's edge models on a CUDA host: FP32, FP16 and INT8 of the embedded models on ONNX
Runtime's CUDA and CPU providers, per-image latency (median of 10 after 3 warm-ups) at 256² and 512², and each
output against the FP32 output on the CPU (PSNR of the 8-bit images, largest 8-bit difference).

    python3 scripts/gpu-check.py [out.json]

Needs onnxruntime with the CUDA provider (onnxruntime-gpu), numpy and Pillow. srq itself stays TypeScript; this is
a reference check for hosts where onnxruntime-node's CUDA binaries are installed, run with the same kernels.
"""
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["esrgan-slim-x4", "esrgan-medium-x4", "realesr-x4fast"]
SIZES = [256, 512]


def photo(size):
    img = np.asarray(Image.open(ROOT / "images" / "hubble.png").convert("RGB"), dtype=np.float32) / 255
    return np.ascontiguousarray(img[:size, :size].transpose(2, 0, 1)[None])


def to_u8(y):
    return np.clip(np.round(y * 255), 0, 255).astype(np.uint8)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def timed(session, x, runs=10, warm=3):
    name = session.get_inputs()[0].name
    for _ in range(warm):
        y = session.run(None, {name: x})[0]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        y = session.run(None, {name: x})[0]
        times.append(time.perf_counter() - t)
    return statistics.median(times), y


def main():
    providers = ort.get_available_providers()
    print(f"onnxruntime {ort.__version__}, providers: {providers}")
    result = {"onnxruntime": ort.__version__, "providers": providers, "rows": []}
    cuda = "CUDAExecutionProvider" in providers
    if not cuda:
        print("no CUDAExecutionProvider in this onnxruntime build: the GPU path cannot run here")
    for name in MODELS:
        files = {
            "fp32": ROOT / "models" / f"{name}.onnx",
            "fp16": ROOT / "src-edge" / "models" / f"{name}.fp16.onnx",
            "int8": ROOT / "src-edge" / "models" / f"{name}.int8.onnx",
        }
        for size in SIZES:
            x = photo(size)
            reference = None
            for provider in (["CUDAExecutionProvider"] if cuda else []) + ["CPUExecutionProvider"]:
                for variant, path in files.items():
                    opts = ort.SessionOptions()
                    session = ort.InferenceSession(str(path), opts, providers=[provider])
                    used = session.get_providers()[0]
                    seconds, y = timed(session, x, runs=10 if provider != "CPUExecutionProvider" else 3, warm=3 if provider != "CPUExecutionProvider" else 1)
                    out = to_u8(y)
                    if reference is None and provider == "CPUExecutionProvider" and variant == "fp32":
                        reference = out
                    row = {"model": name, "size": size, "provider": used, "variant": variant, "ms": round(seconds * 1000, 2), "out": out}
                    result["rows"].append(row)
            for row in result["rows"]:
                if row["model"] == name and row["size"] == size and "out" in row:
                    out = row.pop("out")
                    row["psnr_vs_fp32_cpu"] = round(psnr(out, reference), 2)
                    row["max_diff_8bit"] = int(np.max(np.abs(out.astype(np.int16) - reference.astype(np.int16))))
                    print(f"{name:18s} {size:4d}² {row['provider']:22s} {row['variant']:5s} {row['ms']:9.2f} ms  "
                          f"vs FP32 CPU: {row['psnr_vs_fp32_cpu']:6.2f} dB, max {row['max_diff_8bit']} levels")
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
