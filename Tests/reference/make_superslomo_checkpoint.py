#!/usr/bin/env python3
"""Writes a Super SloMo checkpoint with random weights, laid out as the public implementation's
train.py saves it: a dict of training details with state_dictFC (UNet(6, 4)) and state_dictAT
(UNet(20, 5)), each an nn.Module state dict (OrderedDict with _metadata).

Weights are He-normal (std sqrt(2 / fan_in)), which keeps leaky-ReLU activations from growing
through the 23 layers; biases are small; the last layer is scaled up tenfold so that the flows
come out around a pixel (up to several), enough for warping to matter, and the visibility logits
vary by a few units around 0.

usage: make_superslomo_checkpoint.py OUT --seed N [--format zip|legacy] [--omit KEY]
  --omit KEY leaves that entry out (for tests of the error a damaged checkpoint gives)."""
import argparse
import collections
import datetime
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from superslomo import unet_layers  # noqa: E402
from torch_pickle import StateDict, Tensor, save  # noqa: E402


def random_unet(rng, in_channels, out_channels):
    state = StateDict()
    metadata = collections.OrderedDict([("", {"version": 1})])
    for name, a, b, k in unet_layers(in_channels, out_channels):
        scale = np.sqrt(2.0 / (a * k * k)) * (10.0 if name == "conv3" else 1.0)
        state[f"{name}.weight"] = Tensor.of((rng.standard_normal((b, a, k, k)) * scale).astype(np.float32))
        state[f"{name}.bias"] = Tensor.of((rng.standard_normal(b) * 0.01).astype(np.float32))
        parent = name.rsplit(".", 1)[0]
        if "." in name and parent not in metadata:
            metadata[parent] = {"version": 1}
        metadata[name] = {"version": 1}
    state.metadata = metadata
    return state


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--format", choices=["zip", "legacy"], default="zip")
    parser.add_argument("--omit", metavar="KEY")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    checkpoint = {
        "Detail": "End to end Super SloMo.",
        "epoch": 0,
        "timestamp": datetime.datetime(2018, 7, 4, 12, 0, 0),
        "trainBatchSz": 6,
        "validationBatchSz": 10,
        "learningRate": 1e-4,
        "loss": [[]],
        "valLoss": [[]],
        "valPSNR": [[]],
        "state_dictFC": random_unet(rng, 6, 4),
        "state_dictAT": random_unet(rng, 20, 5),
    }
    checkpoint.pop(args.omit, None)
    save(checkpoint, args.out, args.format)


if __name__ == "__main__":
    main()
