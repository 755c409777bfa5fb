"""Worked answers to notebook 02's exercises: try them yourself first."""
import numpy as np


def encode_joint(x, y, visible, heatmap_size=(48, 64), sigma=2.0, stride=4):
    """(heatmap (h, w), weight) for one joint at (x, y) input pixels."""
    w, h = heatmap_size
    heatmap = np.zeros((h, w), dtype=np.float32)
    if not visible:
        return heatmap, 0.0
    mu_x, mu_y = int(x / stride + 0.5), int(y / stride + 0.5)  # the nearest heatmap pixel
    r = int(3 * sigma)
    x0, y0, x1, y1 = mu_x - r, mu_y - r, mu_x + r + 1, mu_y + r + 1  # the window, one past its end
    if x0 >= w or y0 >= h or x1 <= 0 or y1 <= 0:  # nothing of it on the map
        return heatmap, 0.0
    d = np.arange(-r, r + 1)
    gaussian = np.exp(-(d[None, :] ** 2 + d[:, None] ** 2) / (2 * sigma**2))  # peak exp(0) = 1
    hx0, hx1, hy0, hy1 = max(0, x0), min(x1, w), max(0, y0), min(y1, h)  # the window clipped to the map
    heatmap[hy0:hy1, hx0:hx1] = gaussian[hy0 - y0:hy1 - y0, hx0 - x0:hx1 - x0]  # and the same part of the patch
    return heatmap, 1.0


def decode_quarter(heatmap):
    """(x, y, score) of one heatmap: argmax plus the original's quarter-pixel step."""
    h, w = heatmap.shape
    y, x = np.unravel_index(np.argmax(heatmap), heatmap.shape)  # rows first
    score = float(heatmap[y, x])
    fx, fy = float(x), float(y)
    if 1 < x < w - 1 and 1 < y < h - 1:
        fx += 0.25 * np.sign(heatmap[y, x + 1] - heatmap[y, x - 1])  # towards the higher neighbour
        fy += 0.25 * np.sign(heatmap[y + 1, x] - heatmap[y - 1, x])
    return fx, fy, score


def parabola_offset(left, centre, right):
    """Sub-pixel offset of a sampled Gaussian's centre from its maximum sample."""
    a, b, c = np.log([left, centre, right])  # the log of a Gaussian is a parabola
    return 0.5 * (a - c) / (a - 2 * b + c)  # the vertex of the parabola through (-1, a), (0, b), (1, c)
