#!/usr/bin/env python3
"""Checks rife_hdv3.py against the golden frames PyTorch computed (see the data folder's README):
BGR in [0, 1], zero padding right/bottom to a multiple of 32, output rounded to 8 bits and cropped.

usage: rife_goldens.py WEIGHTS DATA_DIR [SEQUENCE ...]
Prints per sequence the max and mean absolute difference to the golden frame in 8-bit levels and
the PSNR (RGB) against the true middle frame, then the means; exits 1 if any max difference
exceeds --tolerance levels (default 4)."""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from png import read_png  # noqa: E402
from rife_hdv3 import ifnet, load_weights  # noqa: E402


def to_input(rgb, height, width):
    """uint8 (h, w, RGB) -> float32 (3, H, W) BGR in [0, 1], zero-padded right and bottom."""
    padded = np.zeros((3, height, width), np.float32)
    padded[:, :rgb.shape[0], :rgb.shape[1]] = rgb[:, :, ::-1].transpose(2, 0, 1) / np.float32(255)
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
    args = parser.parse_args()
    weights = load_weights(args.weights)
    sequences = args.sequences or sorted(os.listdir(os.path.join(args.data, "middlebury")))
    worst, psnrs, means = 0, [], []
    for name in sequences:
        folder = os.path.join(args.data, "middlebury", name)
        frame0, frame1 = read_png(os.path.join(folder, "frame10.png")), read_png(os.path.join(folder, "frame11.png"))
        truth = read_png(os.path.join(folder, "frame10i11.png"))
        golden = read_png(os.path.join(args.data, "rife-hdv3-reference", f"{name}.png"))
        h, w = frame0.shape[:2]
        height, width = -(-h // 32) * 32, -(-w // 32) * 32
        out = ifnet(weights, to_input(frame0, height, width), to_input(frame1, height, width))
        rgb = np.round(np.clip(out[::-1, :h, :w].transpose(1, 2, 0), 0, 1) * 255).astype(np.uint8)
        difference = np.abs(rgb.astype(np.int32) - golden.astype(np.int32))
        worst = max(worst, int(difference.max()))
        psnrs.append(psnr(rgb, truth))
        means.append(difference.mean())
        print(f"{name:12s} max {difference.max():3d}  mean {difference.mean():.4f}  "
              f"differing {np.mean(difference > 0) * 100:6.3f}%  PSNR {psnrs[-1]:.2f} dB (golden {psnr(golden, truth):.2f})",
              flush=True)
    print(f"mean PSNR {np.mean(psnrs):.2f} dB, mean abs difference {np.mean(means):.4f}, max {worst}")
    sys.exit(1 if worst > args.tolerance else 0)


if __name__ == "__main__":
    main()
