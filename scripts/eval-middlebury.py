#!/usr/bin/env python3
"""Middlebury "other" through a command-line interpolator, as a user runs it: each pair as a two-frame
yuv420p Y4M, x2, and the synthesised middle frame scored against frame10i11 (PSNR on 8-bit luma, the
true frame converted the same way). Prints per-sequence and mean PSNR-Y for each method.

Usage: eval-middlebury.py DATA/middlebury "NAME=COMMAND {in} {out} {scale}" ...
"""
import os, subprocess, sys, tempfile
import numpy as np


def luma(path, w, h, index):
    data = open(path, 'rb').read()
    header, rest = data.split(b'\n', 1)
    size, pos = w * h * 3 // 2, 0
    for _ in range(index):
        pos = rest.index(b'\n', pos) + 1 + size
    start = rest.index(b'\n', pos) + 1
    return np.frombuffer(rest[start:start + w * h], np.uint8).reshape(h, w).astype(np.float64)


def main():
    root, methods = sys.argv[1], [m.split('=', 1) for m in sys.argv[2:]]
    work = tempfile.mkdtemp(prefix='middlebury-')
    scores = {name: [] for name, _ in methods}
    for sequence in sorted(os.listdir(root)):
        folder = os.path.join(root, sequence)
        if not os.path.exists(os.path.join(folder, 'frame10i11.png')):
            continue
        pair, truth = os.path.join(work, 'pair.y4m'), os.path.join(work, 'truth.y4m')
        subprocess.run(['ffmpeg', '-v', 'error', '-y', '-framerate', '1', '-start_number', '10', '-i',
                        os.path.join(folder, 'frame%02d.png'), '-frames:v', '2', '-pix_fmt', 'yuv420p', pair], check=True)
        subprocess.run(['ffmpeg', '-v', 'error', '-y', '-i', os.path.join(folder, 'frame10i11.png'),
                        '-pix_fmt', 'yuv420p', truth], check=True)
        header = open(truth, 'rb').readline().split()
        w = int([f for f in header if f.startswith(b'W')][0][1:]); h = int([f for f in header if f.startswith(b'H')][0][1:])
        expected = luma(truth, w, h, 0)
        row = []
        for name, command in methods:
            out = os.path.join(work, 'out.y4m')
            subprocess.run(command.format(**{'in': pair, 'out': out, 'scale': 2}), shell=True, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            mse = np.mean((luma(out, w, h, 1) - expected) ** 2)
            scores[name].append(10 * np.log10(255 ** 2 / mse))
            row.append(f'{name} {scores[name][-1]:.2f}')
        print(f'{sequence}: ' + ', '.join(row))
    print('mean: ' + ', '.join(f'{name} {np.mean(v):.2f}' for name, v in scores.items()))


if __name__ == '__main__':
    main()
