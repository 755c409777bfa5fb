"""Plausible wrong answers to notebook 02's exercises, each with the diagnosis its check must give."""
import numpy as np


def _gaussian_window(x, y, visible, heatmap_size, sigma, stride, *, rounding=True, two=True, clip=True):
    w, h = heatmap_size
    heatmap = np.zeros((h, w))
    if not visible:
        return heatmap, 0.0
    mu_x = int(x / stride + 0.5) if rounding else int(x / stride)
    mu_y = int(y / stride + 0.5) if rounding else int(y / stride)
    r = int(3 * sigma)
    if mu_x - r >= w or mu_y - r >= h or mu_x + r < 0 or mu_y + r < 0:
        return heatmap, 0.0
    for yy in range(mu_y - r, mu_y + r + 1):
        for xx in range(mu_x - r, mu_x + r + 1):
            if not clip or (0 <= xx < w and 0 <= yy < h):
                if yy < h and xx < w:
                    d2 = (xx - mu_x) ** 2 + (yy - mu_y) ** 2
                    heatmap[yy, xx] = np.exp(-d2 / ((2 if two else 1) * sigma**2))
    return heatmap, 1.0


def encode_floor(x, y, visible, heatmap_size=(48, 64), sigma=2.0, stride=4):
    return _gaussian_window(x, y, visible, heatmap_size, sigma, stride, rounding=False)


def encode_without_the_two(x, y, visible, heatmap_size=(48, 64), sigma=2.0, stride=4):
    return _gaussian_window(x, y, visible, heatmap_size, sigma, stride, two=False)


def encode_wrapping_at_the_border(x, y, visible, heatmap_size=(48, 64), sigma=2.0, stride=4):
    return _gaussian_window(x, y, visible, heatmap_size, sigma, stride, clip=False)


def encode_ignoring_visibility(x, y, visible, heatmap_size=(48, 64), sigma=2.0, stride=4):
    return _gaussian_window(x, y, 1, heatmap_size, sigma, stride)


def encode_whole_map(x, y, visible, heatmap_size=(48, 64), sigma=2.0, stride=4):
    w, h = heatmap_size
    if not visible:
        return np.zeros((h, w)), 0.0
    yy, xx = np.mgrid[0:h, 0:w]
    mx, my = int(x / stride + 0.5), int(y / stride + 0.5)
    return np.exp(-((xx - mx) ** 2 + (yy - my) ** 2) / (2 * sigma**2)), 1.0


def encode_transposed(x, y, visible, heatmap_size=(48, 64), sigma=2.0, stride=4):
    heatmap, weight = _gaussian_window(x, y, visible, heatmap_size, sigma, stride)
    return heatmap.T, weight


def decode_argmax_only(heatmap):
    y, x = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    return float(x), float(y), float(heatmap.max())


def decode_swapped(heatmap):
    x, y = np.unravel_index(np.argmax(heatmap), heatmap.shape)  # the classic: rows first, read as x
    h, w = heatmap.shape
    fx, fy = float(x), float(y)
    return fx, fy, float(heatmap.max())


def decode_wrong_direction(heatmap):
    h, w = heatmap.shape
    y, x = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    fx, fy = float(x), float(y)
    if 1 < x < w - 1 and 1 < y < h - 1:
        fx -= 0.25 * np.sign(heatmap[y, x + 1] - heatmap[y, x - 1])
        fy -= 0.25 * np.sign(heatmap[y + 1, x] - heatmap[y - 1, x])
    return fx, fy, float(heatmap[y, x])


def decode_everywhere(heatmap):
    h, w = heatmap.shape
    y, x = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    right = heatmap[y, x + 1] if x + 1 < w else 0.0
    down = heatmap[y + 1, x] if y + 1 < h else 0.0
    fx = x + 0.25 * np.sign(right - heatmap[y, x - 1])  # x - 1 = -1 wraps to the last column
    fy = y + 0.25 * np.sign(down - heatmap[y - 1, x])
    return float(fx), float(fy), float(heatmap[y, x])


def parabola_on_values(left, centre, right):
    return 0.5 * (left - right) / (left - 2 * centre + right)


def parabola_sign_flipped(left, centre, right):
    a, b, c = np.log([left, centre, right])
    return 0.5 * (c - a) / (a - 2 * b + c)


MISTAKES = [
    ("ex02_encode", encode_floor, "did you floor (int(y / stride)) instead of rounding"),
    ("ex02_encode", encode_without_the_two, "did you forget the 2?"),
    ("ex02_encode", encode_wrapping_at_the_border, "the window wrapped around"),
    ("ex02_encode", encode_ignoring_visibility, "an unlabelled joint teaches nothing"),
    ("ex02_encode", encode_whole_map, "draw the Gaussian only within floor(3 sigma) = 6 pixels"),
    ("ex02_encode", encode_transposed, "rows are y, columns are x"),
    ("ex02_decode", decode_argmax_only, "without the quarter-pixel step"),
    ("ex02_decode", decode_swapped, "x and y are swapped"),
    ("ex02_decode", decode_wrong_direction, "away from the higher neighbour"),
    ("ex02_decode", decode_everywhere, "skip the step there"),
    ("ex02_parabola", parabola_on_values, "take np.log of the three values first"),
    ("ex02_parabola", parabola_sign_flipped, "the sign is flipped"),
]
