/* The inference pipeline of hpe_utils.predictor.Predictor, in the browser: no DOM, no canvas resampling.
 *
 * Works on ImageData-like objects {data: RGBA bytes, width, height}. Each step mirrors its Python twin,
 * down to float32 rounding where numpy computes in float32 (Math.fround), so the page's keypoints match
 * Predictor(backend="onnx") to a small fraction of a pixel:
 *   box -> centre/scale (transforms.box_to_center_scale) -> affine crop with cv2.warpAffine's INTER_LINEAR
 *   sampling and a black border (transforms.crop) -> normalize in the weights' colour order -> model ->
 *   flip test (flip.flip_back_numpy) -> HeatmapCodec.decode ("dark" or "quarter") -> heatmap_to_image.
 * The person boxes come from the shipped detector (centernet.py), mirrored the same way: the letterbox is the
 * same cv2.warpAffine reproduction as the crop, and decodeDetections is centernet.decode_detections in double
 * precision (numpy's float64), down to its stable sort; poseNms is Predictor's duplicate removal (tracking.pose_nms).
 * Loaded as a classic script (window.HpePose) or required by Node (module.exports) for unit checks.
 */
(function (root, factory) {
  "use strict";
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.HpePose = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";
  const f32 = Math.fround;

  // ------------------------------------------------------------------ boxes and affine maps (transforms.py)

  /** Box [x, y, w, h] -> {center, scale}: widened to aspect = width / height, times padding, in pixelStd units. */
  function boxToCenterScale(box, aspect, padding, pixelStd) {
    let [x, y, w, h] = box.map(Number);
    if (![x, y, w, h].every(Number.isFinite) || !(w > 0) || !(h > 0)) {
      throw new Error(`a box must be finite (x, y, w, h) with w, h > 0, got [${box}]`);
    }
    const center = [f32(x + w * 0.5), f32(y + h * 0.5)];
    if (w > aspect * h) h = w / aspect;
    else if (w < aspect * h) w = h * aspect;
    // np.array([w / 200, h / 200], float32) * padding: float32 times a (weak) Python float
    const p = f32(padding);
    const scale = [f32(f32(w / pixelStd) * p), f32(f32(h / pixelStd) * p)];
    return { center, scale };
  }

  /** transforms.get_affine_transform without rotation: image -> output pixels, [a, b, c, d, e, f] (row-major 2x3). */
  function affineTransform(center, scale, outW, outH, pixelStd) {
    const srcW = scale[0] * pixelStd;
    if (!(srcW > 0)) throw new Error(`scale must be positive, got ${scale}`);
    const s = outW / srcW;
    return [s, 0, outW * 0.5 - s * center[0], 0, s, outH * 0.5 - s * center[1]];
  }

  /** cv2.invertAffineTransform, operation for operation (double precision). */
  function invertAffine(m) {
    let d = m[0] * m[4] - m[1] * m[3];
    d = d !== 0 ? 1 / d : 0;
    const a11 = m[4] * d, a22 = m[0] * d, a12 = -m[1] * d, a21 = -m[3] * d;
    const b1 = -a11 * m[2] - a12 * m[5];
    const b2 = -a21 * m[2] - a22 * m[5];
    return [a11, a12, b1, a21, a22, b2];
  }

  /**
   * cv2.warpAffine(rgb, M, (outW, outH), flags=INTER_LINEAR, borderMode=BORDER_CONSTANT, borderValue=0) on
   * the RGB channels of RGBA data -> Uint8Array (outH * outW * 3). OpenCV 5's float sampling (checked bit
   * for bit against cv2 5.0 on real crops): the source position of output pixel (x, y) is M^-1 (x, y) in
   * float32 (pixel-index coordinates, no half-pixel offset), its four neighbours are blended linearly along
   * x then y in float32, neighbours outside the image count as black, and the result is rounded half to even.
   */
  function warpAffine(img, m, outW, outH) {
    const inv = invertAffine(m).map(f32); // the inverse map, computed in double, applied in float32
    const src = img.data, cols = img.width, rows = img.height, stride = cols * 4;
    const out = new Uint8Array(outW * outH * 3);
    let o = 0;
    for (let y = 0; y < outH; y++) {
      const mx = f32(f32(inv[1] * y) + inv[2]), my = f32(f32(inv[4] * y) + inv[5]);
      for (let x = 0; x < outW; x++, o += 3) {
        const sx = f32(inv[0] * x + mx), sy = f32(inv[3] * x + my); // fused multiply-add: one rounding
        const ix = Math.floor(sx), iy = Math.floor(sy);
        if (ix < -1 || ix >= cols || iy < -1 || iy >= rows) continue; // all four neighbours outside: black
        const ax = f32(sx - ix), ay = f32(sy - iy);
        const inside = ix >= 0 && ix < cols - 1 && iy >= 0 && iy < rows - 1;
        const base = iy * stride + ix * 4;
        for (let c = 0; c < 3; c++) {
          let p00, p01, p10, p11;
          if (inside) {
            p00 = src[base + c]; p01 = src[base + 4 + c];
            p10 = src[base + stride + c]; p11 = src[base + stride + 4 + c];
          } else {
            const okx0 = ix >= 0, okx1 = ix + 1 < cols, oky0 = iy >= 0, oky1 = iy + 1 < rows;
            p00 = okx0 && oky0 ? src[base + c] : 0;
            p01 = okx1 && oky0 ? src[base + 4 + c] : 0;
            p10 = okx0 && oky1 ? src[base + stride + c] : 0;
            p11 = okx1 && oky1 ? src[base + stride + 4 + c] : 0;
          }
          const v0 = f32(p00 + ax * (p01 - p00)); // exact product, one rounding (fma)
          const v1 = f32(p10 + ax * (p11 - p10));
          const v = f32(v0 + ay * f32(v1 - v0));
          out[o + c] = roundHalfEven(v);
        }
      }
    }
    return out;
  }

  /** np.rint: round half to even (Math.round rounds halves up). */
  function rint(v) {
    let r = Math.round(v);
    if (r - v === 0.5 && r % 2 !== 0) r -= 1;
    return r;
  }

  function roundHalfEven(v) {
    const r = rint(v);
    return r < 0 ? 0 : r > 255 ? 255 : r;
  }

  /** transforms.normalize for one crop: uint8 RGB (H, W, 3) -> float32 (3, H, W) written at out[offset..]. */
  function normalizeInto(rgb, w, h, colorOrder, mean, std, out, offset, mirror) {
    if (colorOrder !== "rgb" && colorOrder !== "bgr") throw new Error(`color_order must be 'rgb' or 'bgr', got ${colorOrder}`);
    // numpy: (x.astype(float32) / 255.0 - MEAN) / STD, all float32; for "bgr" channel c reads RGB channel 2 - c
    // but is still normalised with mean[c] / std[c] (the original MSRA training's quirk).
    const luts = [0, 1, 2].map((c) => {
      const lut = new Float32Array(256), m = f32(mean[c]), s = f32(std[c]);
      for (let v = 0; v < 256; v++) lut[v] = f32(f32(f32(v / 255) - m) / s);
      return lut;
    });
    const plane = w * h;
    for (let c = 0; c < 3; c++) {
      const srcC = colorOrder === "bgr" ? 2 - c : c, lut = luts[c], base = offset + c * plane;
      for (let y = 0; y < h; y++) {
        const row = y * w;
        for (let x = 0; x < w; x++) {
          const sxp = mirror ? w - 1 - x : x;
          out[base + row + x] = lut[rgb[(row + sxp) * 3 + srcC]];
        }
      }
    }
  }

  // ------------------------------------------------------------------ flip test (flip.py)

  /** flip_back_numpy for one person: heatmaps (K, h, w) of the mirrored crop -> original orientation. */
  function flipBack(hm, k, h, w, perm, shift) {
    if (!(shift >= 0 && shift < 8)) throw new Error(`flip shift must be in [0, 8) heatmap pixels, got ${shift}`);
    const whole = Math.floor(shift), frac = shift - whole;
    const out = new Float32Array(k * h * w);
    const wa = f32(1 - frac), wb = f32(frac);
    for (let j = 0; j < k; j++) {
      const srcBase = perm[j] * h * w, dstBase = j * h * w;
      for (let y = 0; y < h; y++) {
        const row = srcBase + y * w;
        // mirrored row: m[x] = src[w - 1 - x]; shifted right by n: m[max(0, x - n)] (edge repeated)
        const at = (x) => hm[row + (w - 1 - Math.max(0, x))];
        for (let x = 0; x < w; x++) {
          const a = at(x - whole);
          out[dstBase + y * w + x] = frac === 0 ? a : f32(f32(wa * a) + f32(wb * at(x - whole - 1)));
        }
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ decoding (codec.py)

  /** numpy's pairwise float32 sum (its add.reduce for up to 128 contiguous items). */
  function pairwiseSum32(a) {
    const n = a.length;
    if (n < 8) { let s = 0; for (let i = 0; i < n; i++) s = f32(s + a[i]); return s; }
    const r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = f32(r[j] + a[i + j]);
    let res = f32(f32(f32(r[0] + r[1]) + f32(r[2] + r[3])) + f32(f32(r[4] + r[5]) + f32(r[6] + r[7])));
    for (; i < n; i++) res = f32(res + a[i]);
    return res;
  }

  function gaussianKernel(sigma) {
    const r = Math.ceil(3 * sigma), s2 = f32(2 * sigma * sigma);
    const g = [];
    for (let t = -r; t <= r; t++) g.push(f32(Math.exp(f32(-f32(t * t) / s2))));
    const sum = pairwiseSum32(g);
    return { r, g: g.map((v) => f32(v / sum)) };
  }

  /** HeatmapCodec.decode for one person: heatmaps (K, h, w) -> {coords: [[x, y]] heatmap px, scores}. */
  function decode(hm, k, h, w, sigma, refine) {
    const kernel = refine === "dark" ? gaussianKernel(sigma) : null;
    const coords = [], scores = [];
    for (let j = 0; j < k; j++) {
      const base = j * h * w;
      let idx = 0, best = hm[base];
      for (let i = 1; i < h * w; i++) if (hm[base + i] > best) { best = hm[base + i]; idx = i; }
      const found = best > 0;
      const px = found ? idx % w : 0, py = found ? Math.floor(idx / w) : 0;
      let cx = px, cy = py;
      if (found && refine !== "none") {
        const step = kernel ? darkStep(hm, base, h, w, px, py, kernel) : null;
        const [ox, oy] = step || quarterStep(hm, base, h, w, px, py);
        cx = f32(px + ox); cy = f32(py + oy);
      }
      coords.push([cx, cy]);
      scores.push(best);
    }
    return { coords, scores };
  }

  function quarterStep(hm, base, h, w, px, py) {
    if (!(px > 1 && px < w - 1 && py > 1 && py < h - 1)) return [0, 0];
    const dx = f32(hm[base + py * w + px + 1] - hm[base + py * w + px - 1]);
    const dy = f32(hm[base + (py + 1) * w + px] - hm[base + (py - 1) * w + px]);
    return [Math.sign(dx) * 0.25, Math.sign(dy) * 0.25];
  }

  /** codec._dark_step for one joint: the Newton step of the blurred log-heatmap, or null where it does not apply. */
  function darkStep(hm, base, h, w, px, py, kernel) {
    if (!(px >= 2 && px <= w - 3 && py >= 2 && py <= h - 3)) return null;
    const { r, g } = kernel, n = 2 * r + 5; // the (5 + 2r)^2 patch around the peak, zero outside the map
    const patch = new Float32Array(n * n);
    for (let a = 0; a < n; a++) {
      const yy = py - r - 2 + a;
      if (yy < 0 || yy >= h) continue;
      for (let b = 0; b < n; b++) {
        const xx = px - r - 2 + b;
        if (xx >= 0 && xx < w) patch[a * n + b] = hm[base + yy * w + xx];
      }
    }
    const rows = new Float32Array(5 * n); // sum(g[i] * patch[i:i+5, :]): sequential float32 sums
    for (let i = 0; i <= 2 * r; i++) for (let a = 0; a < 5; a++) for (let b = 0; b < n; b++) {
      rows[a * n + b] = f32(rows[a * n + b] + f32(g[i] * patch[(a + i) * n + b]));
    }
    const logm = new Float32Array(25);
    const floor = f32(1e-10);
    for (let a = 0; a < 5; a++) for (let c = 0; c < 5; c++) {
      let s = 0;
      for (let i = 0; i <= 2 * r; i++) s = f32(s + f32(g[i] * rows[a * n + c + i]));
      logm[a * 5 + c] = f32(Math.log(Math.max(s, floor)));
    }
    const at = (dx, dy) => logm[(2 + dy) * 5 + 2 + dx];
    const c = at(0, 0);
    const gx = f32(0.5 * f32(at(1, 0) - at(-1, 0))), gy = f32(0.5 * f32(at(0, 1) - at(0, -1)));
    const hxx = f32(0.25 * f32(f32(at(2, 0) - f32(2 * c)) + at(-2, 0)));
    const hyy = f32(0.25 * f32(f32(at(0, 2) - f32(2 * c)) + at(0, -2)));
    const hxy = f32(0.25 * f32(f32(f32(at(1, 1) - at(1, -1)) - at(-1, 1)) + at(-1, -1)));
    const det = f32(f32(hxx * hyy) - f32(hxy * hxy));
    if (!(det > f32(1e-12) && hxx < 0)) return null;
    const ox = f32(-f32(f32(hyy * gx) - f32(hxy * gy)) / det);
    const oy = f32(-f32(f32(hxx * gy) - f32(hxy * gx)) / det);
    if (!(Math.abs(ox) < 1 && Math.abs(oy) < 1)) return null;
    return [ox, oy];
  }

  /** transforms.heatmap_to_image: heatmap coordinates -> image pixels by the inverse of the heatmap's affine map. */
  function heatmapToImage(coords, center, scale, hmW, hmH, pixelStd) {
    const m = invertAffine(affineTransform(center, scale, hmW, hmH, pixelStd));
    return coords.map(([x, y]) => [f32(x * m[0] + y * m[1] + m[2]), f32(x * m[3] + y * m[4] + m[5])]);
  }

  // ------------------------------------------------------------------ the person detector (centernet.py)

  /** centernet.letterbox_matrix: fits width x height into the top-left of a size x size square, aspect kept. */
  function letterboxMatrix(width, height, size) {
    const s = size / Math.max(width, height), o = 0.5 * (s - 1); // pixel centres map as cv2.resize maps them
    return [s, 0, o, 0, s, o];
  }

  /** centernet.letterbox: RGBA pixels -> {rgb: the warped uint8 RGB (size * size * 3), input: it as float32, matrix}. */
  function letterbox(img, size) {
    const matrix = letterboxMatrix(img.width, img.height, size);
    const rgb = warpAffine(img, matrix, size, size); // the same bilinear warp and black border as cv2's
    return { rgb, input: new Float32Array(rgb), matrix };
  }

  /** centernet.box_iou of two [x, y, w, h] boxes, operation for operation in double precision. */
  function boxIou(a, b) {
    const x1 = Math.max(a[0], b[0]), y1 = Math.max(a[1], b[1]);
    const x2 = Math.min(a[0] + a[2], b[0] + b[2]), y2 = Math.min(a[1] + a[3], b[1] + b[3]);
    const inter = Math.max(x2 - x1, 0) * Math.max(y2 - y1, 0);
    const union = a[2] * a[3] + b[2] * b[3] - inter;
    return inter / Math.max(union, 1e-12);
  }

  /** Indices sorting `values` descending, ties in input order (np.argsort(-v, kind="stable")). */
  function stableOrderDescending(values) {
    return values.map((_, i) => i).sort((i, j) => values[j] - values[i] || i - j);
  }

  /** centernet.nms: indices kept by greedy suppression at IoU `iou`, most confident first (ties: first listed). */
  function nms(boxes, scores, iou) {
    const keep = [];
    for (const i of stableOrderDescending(scores)) {
      if (keep.every((j) => boxIou(boxes[i], boxes[j]) <= iou)) keep.push(i);
    }
    return keep;
  }

  /**
   * centernet.decode_detections: the graph's (100, 6) [x1, y1, x2, y2, score, class] in input pixels -> people in
   * frame pixels: {boxes [[x, y, w, h]], scores}, clipped to the frame, boxes under 1 px dropped, duplicates
   * removed, most confident first; float32 values like Python's answer.
   */
  function decodeDetections(raw, matrix, width, height, { threshold, iou, personClass }) {
    const s = matrix[0], o = matrix[2];
    const clip = (v, hi) => Math.min(Math.max(v, 0), hi);
    const boxes = [], scores = [];
    for (let i = 0; i + 6 <= raw.length; i += 6) {
      const score = raw[i + 4];
      if (rint(raw[i + 5]) !== personClass || !(score >= threshold)) continue;
      const x1 = clip((raw[i] - o) / s, width), y1 = clip((raw[i + 1] - o) / s, height);
      const x2 = clip((raw[i + 2] - o) / s, width), y2 = clip((raw[i + 3] - o) / s, height);
      const box = [x1, y1, x2 - x1, y2 - y1];
      if (!(box[2] >= 1 && box[3] >= 1)) continue; // a peak whose box lies in the padding, off the frame
      boxes.push(box);
      scores.push(score);
    }
    const keep = nms(boxes, scores, iou);
    return { boxes: keep.map((i) => boxes[i].map(f32)), scores: keep.map((i) => f32(scores[i])) };
  }

  /**
   * The shipped detector on one image. `meta` is meta.json's `detector`; `runModel(Float32Array, dims)` returns a
   * Promise of {data, dims: [1, 100, 6]}.
   */
  class PersonDetector {
    constructor(meta, runModel) {
      this.meta = meta;
      this.runModel = runModel;
      this.size = meta.input.size;
    }

    /**
     * RGBA pixels -> {boxes, scores} of at most max_people, the most confident (Predictor.detect), `found`: how many
     * the detector found before that cap, and ms: letterbox, model, decode, total.
     */
    async detectPeople(img) {
      if (!img || !img.data || !(img.width > 0) || !(img.height > 0)) throw new Error("detectPeople needs {data, width, height} RGBA pixels");
      const t0 = now();
      const { input, matrix } = letterbox(img, this.size);
      const t1 = now();
      const out = await this.runModel(input, [1, this.size, this.size, 3]);
      const t2 = now();
      if (out.dims.length !== 3 || out.dims[2] !== 6) throw new Error(`the detector returned shape ${out.dims}, expected (1, N, 6)`);
      const m = this.meta;
      const found = decodeDetections(out.data, matrix, img.width, img.height,
        { threshold: m.score_threshold, iou: m.nms_iou, personClass: m.person_class });
      const n = found.boxes.length, cap = m.max_people || n; // already most confident first: the cap keeps a prefix
      const t3 = now();
      return { boxes: found.boxes.slice(0, cap), scores: found.scores.slice(0, cap), found: n, matrix,
        ms: { preprocess: t1 - t0, model: t2 - t1, postprocess: t3 - t2, total: t3 - t0 } };
    }
  }

  // ------------------------------------------------------------------ duplicate people (tracking.pose_nms)

  /** tracking.box_from_joints(enlarge=0)'s area: the tight box of the joints at or above `thr` (0: fewer than 2). */
  function tightArea(kps, scores, thr) {
    let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity, n = 0;
    kps.forEach(([x, y], j) => {
      if (!(scores[j] >= thr) || !Number.isFinite(x) || !Number.isFinite(y)) return;
      n += 1; x1 = Math.min(x1, x); y1 = Math.min(y1, y); x2 = Math.max(x2, x); y2 = Math.max(y2, y);
    });
    if (n < 2) return 0;
    const cx = (x1 + x2) / 2, cy = (y1 + y2) / 2, w = x2 - x1, h = y2 - y1;
    return (cx + w / 2 - (cx - w / 2)) * (cy + h / 2 - (cy - h / 2));
  }

  /** tracking.oks_matrix(poses, poses) entry (a, b): COCO's OKS with the area of pose b's tight box. */
  function oks(a, b, areaB, sigmas, thr) {
    if (!(areaB > 0)) return 0;
    let total = 0, count = 0;
    for (let j = 0; j < sigmas.length; j++) {
      if (!(a.scores[j] >= thr && b.scores[j] >= thr)) continue;
      const dx = a.keypoints[j][0] - b.keypoints[j][0], dy = a.keypoints[j][1] - b.keypoints[j][1];
      const k = 2 * sigmas[j];
      total += Math.exp(-((dx * dx + dy * dy) / (2 * (k * k) * (areaB + 2.220446049250313e-16))));
      count += 1;
    }
    return count ? total / count : 0;
  }

  /**
   * tracking.pose_nms: indices of the people to keep, in input order: of two whose poses have OKS above `oks`,
   * only the more confident (mean score of its joints at or above `joint_threshold`). `params`: meta.json's pose_nms.
   */
  function poseNms(people, params) {
    const n = people.length;
    if (n < 2 || !params) return people.map((_, i) => i);
    const { oks: limit, joint_threshold: thr, sigmas } = params;
    const areas = people.map((p) => tightArea(p.keypoints, p.scores, thr));
    const sim = people.map((a) => people.map((b, j) => oks(a, b, areas[j], sigmas, thr)));
    const confidence = people.map((p) => {
      const s = p.scores.filter((v) => v >= thr);
      return s.length ? s.reduce((x, y) => x + y, 0) / s.length : 0;
    });
    // np.argsort(confidence, kind="stable")[::-1]: descending, ties the later person first
    const order = confidence.map((_, i) => i).sort((i, j) => confidence[j] - confidence[i] || j - i);
    const kept = [];
    for (const i of order) {
      if (kept.every((k) => Math.max(sim[i][k], sim[k][i]) <= limit)) kept.push(i);
    }
    return kept.sort((i, j) => i - j);
  }

  // ------------------------------------------------------------------ tracking (webcam mode)

  /**
   * The next frame's box from this frame's pose: the joints at or above the threshold, their bounding box
   * grown by `margin` of its size on each side (datasets.box_from_keypoints: how the training boxes around
   * labelled joints were made), then enlarged by `enlarge` about its centre (0.15: the paper's tracker, room
   * for the person to move), clipped to the frame. null (= the whole frame) when the person is lost: fewer
   * than `minJoints` joints found (default: half the skeleton, at least 4; a crop that drifted onto a hand
   * still finds a few confident "joints" there) or a degenerate box.
   */
  function boxFromPose(keypoints, scores, threshold, width, height, { margin = 0.1, enlarge = 0.15, minJoints = null } = {}) {
    if (minJoints === null) minJoints = Math.max(4, Math.ceil(keypoints.length / 2));
    const pts = keypoints.filter((p, j) => scores[j] >= threshold && Number.isFinite(p[0]) && Number.isFinite(p[1]));
    if (pts.length < minJoints) return null;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const [x, y] of pts) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, grow = (1 + 2 * margin) * (1 + enlarge);
    const bw = Math.max(x1 - x0, 1) * grow, bh = Math.max(y1 - y0, 1) * grow;
    const ax = Math.max(0, cx - bw / 2), ay = Math.max(0, cy - bh / 2);
    const bx = Math.min(width, cx + bw / 2), by = Math.min(height, cy + bh / 2);
    if (!(bx - ax >= 8 && by - ay >= 8)) return null;
    return [ax, ay, bx - ax, by - ay];
  }

  // ------------------------------------------------------------------ the pipeline

  const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

  /**
   * Predictor for one person per call. `meta` is the site's meta.json; `runModel(Float32Array, dims)` returns
   * a Promise of {data: Float32Array, dims: [N, K, h, w]} (an ONNX Runtime session in the page).
   */
  class PosePipeline {
    constructor(meta, runModel) {
      this.meta = meta;
      this.runModel = runModel;
      this.inW = meta.input.width; this.inH = meta.input.height;
      this.hmW = meta.output.width; this.hmH = meta.output.height;
      this.pixelStd = meta.pixel_std || 200;
      this.k = meta.skeleton.joints.length;
    }

    regions(box) {
      return boxToCenterScale(box, this.inW / this.inH, this.meta.box_padding, this.pixelStd);
    }

    /** One RGBA image and an optional box [x, y, w, h] (the whole image when none) -> keypoints, scores, ms. */
    async predict(img, { box = null, flip = true } = {}) {
      if (!img || !img.data || !(img.width > 0) || !(img.height > 0)) throw new Error("predict needs {data, width, height} RGBA pixels");
      if (img.data.length < img.width * img.height * 4) throw new Error("pixel data is shorter than width x height x 4");
      const t0 = now();
      const { center, scale } = this.regions(box || [0, 0, img.width, img.height]);
      const m = affineTransform(center, scale, this.inW, this.inH, this.pixelStd);
      const rgb = warpAffine(img, m, this.inW, this.inH);
      const n = flip ? 2 : 1, plane = 3 * this.inW * this.inH;
      const x = new Float32Array(n * plane);
      const { color_order: order, mean, std } = this.meta.input;
      normalizeInto(rgb, this.inW, this.inH, order, mean, std, x, 0, false);
      if (flip) normalizeInto(rgb, this.inW, this.inH, order, mean, std, x, plane, true);
      const t1 = now();
      const out = await this.runModel(x, [n, 3, this.inH, this.inW]);
      const t2 = now();
      const [, k, h, w] = out.dims;
      if (k !== this.k || h !== this.hmH || w !== this.hmW) {
        throw new Error(`the model returned heatmaps of shape ${out.dims}, meta.json says (${n}, ${this.k}, ${this.hmH}, ${this.hmW})`);
      }
      const size = k * h * w;
      let hm = out.data.subarray(0, size);
      if (flip) {
        const back = flipBack(out.data.subarray(size, 2 * size), k, h, w, this.meta.flip.permutation, this.meta.flip.shift);
        const avg = new Float32Array(size);
        for (let i = 0; i < size; i++) avg[i] = f32(f32(hm[i] + back[i]) * 0.5);
        hm = avg;
      }
      const { coords, scores } = decode(hm, k, h, w, this.meta.sigma, this.meta.refine || "dark");
      const keypoints = heatmapToImage(coords, center, scale, w, h, this.pixelStd);
      const t3 = now();
      return {
        keypoints, scores, box: box || [0, 0, img.width, img.height], width: img.width, height: img.height, flip,
        ms: { preprocess: t1 - t0, model: t2 - t1, postprocess: t3 - t2, total: t3 - t0 },
      };
    }
  }

  /** Person.weak: fewer than `minJoints` joints at the drawing threshold (numpy compares float32 scores in float32). */
  function isWeak(scores, threshold, minJoints) {
    const t = f32(threshold);
    return scores.filter((v) => v >= t).length < minJoints;
  }

  /**
   * Predictor.__call__ for boxes given or detected: every box is posed (one model call each, as the webcam did),
   * then, with `dedupe` (meta.json's pose_nms: detected people only, as in Python), duplicates are dropped.
   * -> {people: [{box, box_score, weak, keypoints, scores}] (hpe predict --json's records), keep: the index of
   * each one's box in `boxes`, ms summed over people}.
   */
  async function posePeople(pipeline, img, boxes, boxScores, { flip = true, dedupe = null } = {}) {
    const ms = { preprocess: 0, model: 0, postprocess: 0, total: 0 };
    const people = [];
    for (let i = 0; i < boxes.length; i++) {
      const r = await pipeline.predict(img, { box: boxes[i], flip });
      for (const key of Object.keys(ms)) ms[key] += r.ms[key];
      people.push({ box: r.box, box_score: boxScores ? boxScores[i] : null, keypoints: r.keypoints, scores: r.scores });
    }
    const keep = dedupe ? poseNms(people, dedupe) : people.map((_, i) => i);
    const { score_threshold: thr = 0.3, min_joints: minJoints = 2 } = pipeline.meta;
    return { people: keep.map((i) => ({ ...people[i], weak: isWeak(people[i].scores, thr, minJoints) })), keep, ms };
  }

  return {
    boxToCenterScale, affineTransform, invertAffine, warpAffine, normalizeInto, flipBack, decode, darkStep,
    quarterStep, heatmapToImage, boxFromPose, pairwiseSum32, PosePipeline, letterboxMatrix, letterbox, boxIou, nms,
    decodeDetections, PersonDetector, poseNms, posePeople, isWeak,
  };
});
