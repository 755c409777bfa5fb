"""Flow table for hpe_utils.tracking.Flow's docstring: endpoint error at 31 joint-like points vs ms/frame, 640x360.

Run from the repository root: python bench/tracking_flows.py [threads]   (OpenCV threads, default 1)
"""
import json, sys, time
import cv2, numpy as np
from hpe_utils.tracking import Flow

cv2.setNumThreads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
img = cv2.imread("data/messi_kick.webp"); H0, W0 = img.shape[:2]
gray0 = cv2.cvtColor(cv2.resize(img, (640, 360), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
kp = json.load(open("data/messi_kick_manual_keypoints.json"))["keypoints"]
J = np.array(list(kp.values()), np.float64) * [640 / W0, 360 / H0]
limbs = [(0, 1), (1, 2), (2, 6), (3, 6), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (7, 12), (12, 11), (11, 10), (7, 13), (13, 14), (14, 15)]
P = np.concatenate([J, [(J[a] + J[b]) / 2 for a, b in limbs]]).astype(np.float32)
warp = lambda g, A: cv2.warpAffine(g, A, (640, 360), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
c = (320, 180)
motions = {"3,2": np.float32([[1, 0, 3], [0, 1, 2]]), "12,-7": np.float32([[1, 0, 12], [0, 1, -7]]),
           "30,15": np.float32([[1, 0, 30], [0, 1, 15]]), "rot 3": cv2.getRotationMatrix2D(c, 3, 1.0).astype(np.float32),
           "rot 10": cv2.getRotationMatrix2D(c, 10, 1.0).astype(np.float32), "zoom 1.05": cv2.getRotationMatrix2D(c, 0, 1.05).astype(np.float32)}
frames = {m: (warp(gray0, A), A) for m, A in motions.items()}
w = warp(gray0, motions["12,-7"]).astype(np.float32) + np.random.default_rng(0).normal(0, 3, gray0.shape)
_, buf = cv2.imencode(".jpg", np.clip(w, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 50])
frames["12,-7 noise jpeg"] = (cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE), motions["12,-7"])
x0, y0 = (P.min(0) - 12).clip(0).astype(int); x1, y1 = (P.max(0) + 12).astype(int)
pb = warp(gray0, np.float32([[1, 0, -6], [0, 1, 0]])); pb[y0 + 4:y1 + 4, x0 + 10:x1 + 10] = gray0[y0:y1, x0:x1][: 360 - y0 - 4]
frames["person 10,4 / bg -6,0"] = (pb, np.float32([[1, 0, 10], [0, 1, 4]]))

def farneback_sample(a, b, p):  # OpenCV's sample settings, for comparison
    f = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return p + cv2.remap(f, p[:, :1], p[:, 1:], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 2)
def dis(preset):
    d = cv2.DISOpticalFlow_create(preset)
    return lambda a, b, p: p + cv2.remap(d.calc(a, b, None), p[:, :1], p[:, 1:], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 2)
methods = {"Flow('lk') (LK 15x15, 4 levels)": Flow("lk"), "Flow('dis') (DIS FAST)": Flow("dis"),
           "DIS ULTRAFAST": dis(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST), "DIS MEDIUM": dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
           "Flow('farneback') (31 px, 4 levels)": Flow("farneback"), "Farneback, OpenCV sample (15 px, 3 levels)": farneback_sample}
def lk21(a, b, p):
    q, st, _ = cv2.calcOpticalFlowPyrLK(a, b, p.reshape(-1, 1, 2), None, winSize=(21, 21), maxLevel=3)
    return q.reshape(-1, 2)
methods["LK 21x21, 4 levels (OpenCV default window)"] = lk21
big0 = cv2.resize(gray0, (1280, 720)); big1 = cv2.resize(frames["12,-7"][0], (1280, 720))
print(f"cv2 {cv2.__version__} threads={cv2.getNumThreads()} points={len(P)}")
print("| flow | " + " | ".join(frames) + " | ms/frame | ms, 240 pts | ms 1280x720 |")
for name, f in methods.items():
    row = []
    for g1, A in frames.values():
        e = np.linalg.norm(f(gray0, g1, P) - (P @ A[:, :2].T + A[:, 2]), axis=1)
        row.append(f"{e.mean():.2f}/{e.max():.1f}")
    g1 = frames["12,-7"][0]
    def ms(pts):
        t = []
        for _ in range(15):
            s = time.perf_counter(); f(gray0, g1, pts); t.append(time.perf_counter() - s)
        return 1000 * np.median(t)
    P240 = np.tile(P[:16], (15, 1)) + np.random.default_rng(1).normal(0, 3, (240, 2)).astype(np.float32)
    t = []
    for _ in range(7):
        s = time.perf_counter(); f(big0, big1, P * 2); t.append(time.perf_counter() - s)
    print(f"| {name} | " + " | ".join(row) + f" | {ms(P):.1f} | {ms(P240.astype(np.float32)):.1f} | {1000*np.median(t):.1f} |")
