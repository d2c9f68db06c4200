#!/usr/bin/env python3
"""Checks rife_hdv3.py or rife_v425.py against the golden frames PyTorch computed (see the data
folder's README): HD v3 BGR in [0, 1] padded right/bottom to a multiple of 32, 4.25 RGB padded to a
multiple of 128; the output rounded to 8 bits and cropped.

usage: rife_goldens.py WEIGHTS DATA_DIR [SEQUENCE ...] [--model hdv3|v4.25]
Prints per golden frame the max and mean absolute difference to it in 8-bit levels and (at t = 0.5)
the PSNR (RGB) against the true middle frame, then the means; exits 1 if any max difference
exceeds --tolerance levels (default 4). For 4.25 the _t25 and _t75 goldens present are checked too."""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from png import read_png  # noqa: E402
import rife_hdv3  # noqa: E402
import rife_v425  # noqa: E402

# Per model: reference module, golden folder, padding multiple, whether the input is BGR, times checked.
MODELS = {
    "hdv3": (rife_hdv3, "rife-hdv3-reference", 32, True, {"": 0.5}),
    "v4.25": (rife_v425, "rife-v4.25-reference", 128, False, {"": 0.5, "_t25": 0.25, "_t75": 0.75}),
}


def to_input(rgb, height, width, bgr):
    """uint8 (h, w, RGB) -> float32 (3, H, W) in [0, 1], BGR or RGB, zero-padded right and bottom."""
    padded = np.zeros((3, height, width), np.float32)
    padded[:, :rgb.shape[0], :rgb.shape[1]] = (rgb[:, :, ::-1] if bgr else rgb).transpose(2, 0, 1) / np.float32(255)
    return padded


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / mse)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("weights")
    parser.add_argument("data")
    parser.add_argument("sequences", nargs="*")
    parser.add_argument("--tolerance", type=int, default=4)
    parser.add_argument("--model", choices=sorted(MODELS), default="hdv3")
    args = parser.parse_args()
    module, goldens, multiple, bgr, times = MODELS[args.model]
    weights = module.load_weights(args.weights)
    sequences = args.sequences or sorted(os.listdir(os.path.join(args.data, "middlebury")))
    worst, psnrs, means = 0, [], []
    for name in sequences:
        folder = os.path.join(args.data, "middlebury", name)
        frame0, frame1 = read_png(os.path.join(folder, "frame10.png")), read_png(os.path.join(folder, "frame11.png"))
        truth = read_png(os.path.join(folder, "frame10i11.png"))
        h, w = frame0.shape[:2]
        height, width = -(-h // multiple) * multiple, -(-w // multiple) * multiple
        inputs = [to_input(frame, height, width, bgr) for frame in (frame0, frame1)]
        for suffix, t in times.items():
            path = os.path.join(args.data, goldens, f"{name}{suffix}.png")
            if not os.path.exists(path):
                continue
            golden = read_png(path)
            out = module.ifnet(weights, *inputs) if args.model == "hdv3" else module.ifnet(weights, *inputs, t)
            rgb = np.round(np.clip((out[::-1] if bgr else out)[:, :h, :w].transpose(1, 2, 0), 0, 1) * 255).astype(np.uint8)
            difference = np.abs(rgb.astype(np.int32) - golden.astype(np.int32))
            worst = max(worst, int(difference.max()))
            means.append(difference.mean())
            line = f"{name + suffix:16s} max {difference.max():3d}  mean {difference.mean():.4f}  differing {np.mean(difference > 0) * 100:6.3f}%"
            if t == 0.5:
                psnrs.append(psnr(rgb, truth))
                line += f"  PSNR {psnrs[-1]:.2f} dB (golden {psnr(golden, truth):.2f})"
            print(line, flush=True)
    print(f"mean PSNR {np.mean(psnrs):.2f} dB, mean abs difference {np.mean(means):.4f}, max {worst}")
    sys.exit(1 if worst > args.tolerance else 0)


if __name__ == "__main__":
    main()
