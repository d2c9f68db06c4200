"""PyTorch's tensor operations in NumPy, for single images laid out (C, H, W) in float32.

Convolutions go through im2col + matmul (chunked over output rows to bound memory), so a
640x480 network pass takes seconds. Every function states the PyTorch call it reproduces."""
import numpy as np

# Bounds the im2col buffer (in float32 elements, 64 MiB).
_COLUMN_BUDGET = 16 * 1024 * 1024


def conv2d(x, weight, bias, stride=1, padding=0):
    """F.conv2d(x, weight, bias, stride, padding), dilation 1, groups 1."""
    channels, height, width = x.shape
    outputs, _, kh, kw = weight.shape
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    out_h = (height + 2 * padding - kh) // stride + 1
    out_w = (width + 2 * padding - kw) // stride + 1
    matrix = weight.reshape(outputs, -1).astype(np.float32)
    out = np.empty((outputs, out_h, out_w), np.float32)
    rows = max(1, _COLUMN_BUDGET // (channels * kh * kw * out_w))
    for top in range(0, out_h, rows):
        n = min(rows, out_h - top)
        columns = np.empty((channels, kh, kw, n, out_w), np.float32)
        for i in range(kh):
            for j in range(kw):
                y0 = top * stride + i
                columns[:, i, j] = padded[:, y0:y0 + stride * (n - 1) + 1:stride, j:j + stride * (out_w - 1) + 1:stride]
        out[:, top:top + n] = (matrix @ columns.reshape(-1, n * out_w)).reshape(outputs, n, out_w)
    if bias is not None:
        out += bias.astype(np.float32)[:, None, None]
    return out


def conv_transpose2d(x, weight, bias, stride=2, padding=1):
    """F.conv_transpose2d(x, weight, bias, stride, padding), output_padding 0; weight is (in, out, k, k)."""
    channels, height, width = x.shape
    _, outputs, kh, kw = weight.shape
    columns = weight.reshape(channels, -1).T.astype(np.float32) @ x.reshape(channels, -1)
    columns = columns.reshape(outputs, kh, kw, height, width)
    full = np.zeros((outputs, (height - 1) * stride + kh, (width - 1) * stride + kw), np.float32)
    # Input pixel (y, x) scatters its kernel to output (y*stride + i, x*stride + j).
    for i in range(kh):
        for j in range(kw):
            full[:, i:i + stride * (height - 1) + 1:stride, j:j + stride * (width - 1) + 1:stride] += columns[:, i, j]
    out_h = (height - 1) * stride - 2 * padding + kh
    out_w = (width - 1) * stride - 2 * padding + kw
    out = full[:, padding:padding + out_h, padding:padding + out_w]
    if bias is not None:
        out = out + bias.astype(np.float32)[:, None, None]
    return np.ascontiguousarray(out)


def prelu(x, weight):
    """nn.PReLU(channels): x where x >= 0, weight[c] * x elsewhere."""
    return np.where(x >= 0, x, weight.astype(np.float32)[:, None, None] * x)


def leaky_relu(x, slope):
    """F.leaky_relu(x, negative_slope=slope)."""
    return np.where(x >= 0, x, np.float32(slope) * x)


def sigmoid(x):
    """torch.sigmoid."""
    return (1 / (1 + np.exp(-x))).astype(np.float32)


def avg_pool2(x):
    """F.avg_pool2d(x, 2) on even sizes."""
    c, h, w = x.shape
    return x.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4), dtype=np.float32)


def _bilinear_axis(size_in, size_out, align_corners, scale_factor):
    """Source indices and weights along one axis, as upsample_bilinear2d computes them."""
    dst = np.arange(size_out, dtype=np.float32)
    if align_corners:
        # With align_corners=True a given scale_factor is ignored: corners map to corners.
        ratio = np.float32((size_in - 1) / (size_out - 1)) if size_out > 1 else np.float32(0)
        src = dst * ratio
    else:
        # recompute_scale_factor=False: PyTorch maps with 1/scale_factor, not size_in/size_out.
        ratio = np.float32(1.0 / scale_factor) if scale_factor else np.float32(size_in / size_out)
        src = np.maximum((dst + np.float32(0.5)) * ratio - np.float32(0.5), 0)
    low = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    weight_high = (src - low).astype(np.float32)
    return low, high, 1 - weight_high, weight_high


def interpolate_bilinear(x, scale_factor, align_corners):
    """F.interpolate(x, scale_factor=s, mode='bilinear', align_corners=..., recompute_scale_factor=False):
    output size floor(in * s)."""
    _, height, width = x.shape
    out_h, out_w = int(np.floor(height * scale_factor)), int(np.floor(width * scale_factor))
    y0, y1, wy0, wy1 = _bilinear_axis(height, out_h, align_corners, scale_factor)
    x0, x1, wx0, wx1 = _bilinear_axis(width, out_w, align_corners, scale_factor)
    rows = x[:, y0] * wy0[None, :, None] + x[:, y1] * wy1[None, :, None]
    return (rows[:, :, x0] * wx0[None, None, :] + rows[:, :, x1] * wx1[None, None, :]).astype(np.float32)


def grid_sample_bilinear(image, pixel_x, pixel_y, padding_mode):
    """F.grid_sample(image, grid, mode='bilinear', padding_mode=..., align_corners=True), with the grid
    already unnormalised to pixel coordinates ((g + 1) / 2 * (size - 1)).
    'border' clamps coordinates into the image; 'zeros' lets taps outside it read 0."""
    channels, height, width = image.shape
    if padding_mode == "border":
        pixel_x = np.clip(pixel_x, 0, width - 1)
        pixel_y = np.clip(pixel_y, 0, height - 1)
    x0 = np.floor(pixel_x).astype(np.int64)
    y0 = np.floor(pixel_y).astype(np.int64)
    out = np.zeros((channels,) + pixel_x.shape, np.float32)
    for dy in (0, 1):
        for dx in (0, 1):
            xs, ys = x0 + dx, y0 + dy
            weight = (1 - np.abs(pixel_x - xs)) * (1 - np.abs(pixel_y - ys))
            inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
            tap = image[:, np.clip(ys, 0, height - 1), np.clip(xs, 0, width - 1)]
            out += np.where(inside, weight, 0).astype(np.float32) * tap
    return out


def pixel_shuffle(x, factor):
    """nn.PixelShuffle(factor): (C*f*f, H, W) -> (C, H*f, W*f), out[c, y*f+i, x*f+j] = in[c*f*f + i*f + j, y, x]."""
    channels, height, width = x.shape
    c = channels // (factor * factor)
    return np.ascontiguousarray(x.reshape(c, factor, factor, height, width).transpose(0, 3, 1, 4, 2).reshape(c, height * factor, width * factor))
