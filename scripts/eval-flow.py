#!/usr/bin/env python3
"""Optical-flow endpoint error on synthetic warps of real frames, slomo's presets beside OpenCV's DIS.

No ground-truth flow set is packaged here, so each Middlebury "other" frame10 becomes a pair with a known
field: frame 1 is the real frame, frame 0 samples it along a smooth field F (a global rotation, zoom and
shift plus three Gaussian blobs of local motion), frame0(x) = frame1(x + F(x)), so F is exactly the flow
from frame 0 to frame 1. Two magnitudes: the largest displacement about 4 and about 16 pixels. Endpoint
error is averaged over pixels whose x + F(x) lies inside the frame, then over the pairs.

Usage: eval-flow.py DATA/middlebury SLOMO [--scales 4,16] [--keep DIR]
Needs NumPy and OpenCV (python3-opencv); runs `SLOMO flow A.png B.png OUT.flo --preset P`.
"""
import argparse, os, subprocess, sys, tempfile
import numpy as np
import cv2


def known_field(w, h, largest, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy, r = w / 2, h / 2, np.hypot(w, h) / 2
    angle, zoom = rng.uniform(-1, 1) * 0.5, rng.uniform(-1, 1) * 0.5
    shift = rng.uniform(-1, 1, 2)
    dx, dy = x - cx, y - cy
    fx = shift[0] * r / 4 + (zoom * dx - angle * dy) / 4
    fy = shift[1] * r / 4 + (zoom * dy + angle * dx) / 4
    for _ in range(3):
        bx, by, sigma = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.1, 0.25) * min(w, h)
        v = rng.uniform(-1, 1, 2) * r / 4
        g = np.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * sigma ** 2))
        fx, fy = fx + v[0] * g, fy + v[1] * g
    norm = np.hypot(fx, fy).max()
    return (fx * largest / norm).astype(np.float32), (fy * largest / norm).astype(np.float32)


def read_flo(path):
    data = open(path, 'rb').read()
    if data[:4] != b'PIEH':
        raise SystemExit(f'{path}: not a .flo file')
    w, h = np.frombuffer(data[4:12], '<i4')
    return np.frombuffer(data[12:12 + 8 * w * h], '<f4').reshape(h, w, 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('middlebury')
    ap.add_argument('slomo')
    ap.add_argument('--scales', default='4,16', help='largest displacements, pixels')
    ap.add_argument('--keep', default=None, help='folder to keep the pairs and flows in')
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix='flow-epe-')
    os.makedirs(work, exist_ok=True)
    methods = ['slomo fast', 'slomo quality', 'DIS ultrafast', 'DIS fast', 'DIS medium']
    presets = {'DIS ultrafast': cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, 'DIS fast': cv2.DISOPTICAL_FLOW_PRESET_FAST,
               'DIS medium': cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
    sequences = sorted(s for s in os.listdir(args.middlebury) if os.path.exists(os.path.join(args.middlebury, s, 'frame10.png')))
    for largest in [float(s) for s in args.scales.split(',')]:
        scores = {m: [] for m in methods}
        for index, sequence in enumerate(sequences):
            frame1 = cv2.imread(os.path.join(args.middlebury, sequence, 'frame10.png'))
            h, w = frame1.shape[:2]
            fx, fy = known_field(w, h, largest, np.random.default_rng(1000 * int(largest) + index))
            y, x = np.mgrid[0:h, 0:w].astype(np.float32)
            frame0 = cv2.remap(frame1, x + fx, y + fy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
            valid = (x + fx >= 0) & (x + fx <= w - 1) & (y + fy >= 0) & (y + fy <= h - 1)
            paths = [os.path.join(work, f'{sequence}-{largest:g}-{k}.png') for k in (0, 1)]
            cv2.imwrite(paths[0], frame0); cv2.imwrite(paths[1], frame1)
            gray = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in (frame0, frame1)]
            row = []
            for m in methods:
                if m.startswith('slomo'):
                    out = os.path.join(work, f'{sequence}-{largest:g}-{m.split()[1]}.flo')
                    subprocess.run([args.slomo, 'flow', *paths, out, '--preset', m.split()[1]], check=True, stdout=subprocess.DEVNULL)
                    flow = read_flo(out)
                else:
                    flow = cv2.DISOpticalFlow_create(presets[m]).calc(gray[0], gray[1], None)
                epe = np.hypot(flow[..., 0] - fx, flow[..., 1] - fy)[valid].mean()
                scores[m].append(epe)
                row.append(f'{m} {epe:.3f}')
            print(f'largest {largest:g} px, {sequence}: ' + ', '.join(row), flush=True)
        print(f'largest {largest:g} px, mean EPE: ' + ', '.join(f'{m} {np.mean(v):.3f}' for m, v in scores.items()), flush=True)


if __name__ == '__main__':
    main()
