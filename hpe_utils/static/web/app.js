/* The page: image files and the webcam -> the person detector and the pose model (pose.js + ONNX Runtime Web)
 * -> canvas and table.
 *
 * window.hpe = {ready, predict(imageLike, {box, flip}) (one person), detectPeople(imageLike) (the detector's
 * boxes), predictPeople(imageLike, {flip}) (everyone, as Predictor without boxes), readImage(blob), last,
 * lastFrame, stats, meta, threads}: the tests drive the same functions the buttons do (last: the latest photo's
 * or webcam frame's result, {width, height, detector, detected, people: [{box, box_score, weak, keypoints,
 * scores}], ms}, the records of hpe predict --json; stats and lastFrame: the webcam's). Every failure ends as a
 * message in #msg, never as an uncaught error in the console.
 */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const Pose = window.HpePose;

  // a tiny module returning a v128 (i32.const 0; i8x16.splat; i8x16.popcnt): validate() is true only with SIMD
  const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0,
    65, 0, 253, 15, 253, 98, 11]);

  const state = {
    meta: null, pipeline: null, detector: null, image: null, result: null, live: null, opened: 0, pick: 0,
    flipStill: true, flipLive: false, // the flip test doubles the work: on for photos, off for the webcam
  };

  class UserError extends Error {} // a message for the user, shown as is

  function message(text, isError) {
    $("msg").textContent = text;
    $("msg").className = isError ? "error" : "";
  }

  function describe(e) {
    if (e instanceof UserError) return e.message;
    const text = e && e.message ? e.message : String(e);
    return text.length > 300 ? text.slice(0, 300) + "…" : text;
  }

  // ------------------------------------------------------------------ start-up: SIMD, runtime, meta.json, model

  function wasmSimd() {
    try {
      return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE);
    } catch (e) {
      return false;
    }
  }

  async function fetchOk(url, what) {
    let r;
    try {
      r = await fetch(url);
    } catch (e) {
      throw new UserError(`Cannot fetch ${what} (${url}): ${describe(e)}`);
    }
    if (!r.ok) throw new UserError(`Cannot fetch ${what} (${url}): the server answered ${r.status}`);
    return r;
  }

  async function loadMeta() {
    const r = await fetchOk("meta.json", "the model's description");
    let meta;
    try {
      meta = await r.json();
    } catch (e) {
      throw new UserError("meta.json is not valid JSON: re-export the site with `hpe export --format web`.");
    }
    if (!meta || meta.format !== "hpe-web/1") {
      throw new UserError(`meta.json has format ${JSON.stringify(meta && meta.format)}, this page reads "hpe-web/1": re-export the site.`);
    }
    return meta;
  }

  /** ONNX Runtime Web's script, loaded only when the model runs here (on hpe serve's server mode it never is). */
  function loadRuntime() {
    if (typeof window.ort === "object" && window.ort.InferenceSession) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = "ort/ort.wasm.min.js";
      tag.onload = () => resolve();
      tag.onerror = () => reject(new UserError("ONNX Runtime Web (ort/ort.wasm.min.js) did not load: the site is " +
        "incomplete, re-export it."));
      document.head.appendChild(tag);
    });
  }

  async function start() {
    const meta = await loadMeta();
    state.meta = meta;
    hpe.meta = meta;
    setThreshold(meta);
    if (meta.server) return startServerMode(meta); // hpe serve: the model runs there until the user switches
    return startBrowser(meta);
  }

  function setThreshold(meta) {
    const thr = meta.score_threshold ?? 0.3;
    $("thr").value = String(thr);
    $("thrOut").textContent = Number(thr).toFixed(2);
  }

  /** The model in this browser: checks, runtime, session, pipeline. */
  async function startBrowser(meta) {
    if (typeof WebAssembly !== "object") {
      throw new UserError("This browser has no WebAssembly: the model cannot run here. Use a current Chrome, Edge, Firefox or Safari.");
    }
    if (!wasmSimd()) {
      throw new UserError("This browser lacks WebAssembly SIMD, which the model's runtime needs. Update the browser " +
        "(Chrome/Edge 91+, Firefox 89+, Safari 16.4+) or enable WebAssembly SIMD.");
    }
    await loadRuntime();
    if (!Pose) throw new UserError("pose.js did not load: the site is incomplete, re-export it.");
    const ort = window.ort;
    ort.env.wasm.wasmPaths = new URL("ort/", document.baseURI).href; // absolute: a bare "ort/" is no module URL
    // threads need cross-origin isolation (COOP: same-origin + COEP: require-corp headers from the host)
    const threads = window.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
    ort.env.wasm.numThreads = threads;
    // the half-size fp16 copy when the export kept it (it ships only if at most 1 % of joints move by a heatmap
    // pixel; measured 0.01 px on the Messi image, at the same speed): half the download; ?model=fp32 for the other
    const half = new URLSearchParams(location.search).get("model") !== "fp32" && meta.model_fp16;
    const modelFile = half ? meta.model_fp16 : meta.model;
    const det = meta.detector; // null: a site exported without it, which poses the whole image as one person
    const [run, runDetector] = await Promise.all([
      openSession(ort, modelFile, "the model", meta.input.name, meta.output.name),
      det ? openSession(ort, det.model, "the person detector", det.input.name, det.output.name) : null,
    ]);
    state.meta = meta;
    state.pipeline = new Pose.PosePipeline(meta, run);
    state.detector = det ? new Pose.PersonDetector(det, runDetector) : null;
    hpe.meta = meta;
    hpe.threads = threads;
    hpe.model = modelFile;
    $("about").textContent = `${modelFile}, ${meta.skeleton.name}, input ${meta.input.width}×${meta.input.height}; ` +
      (det ? `person detector ${det.name} (${det.model}, ${det.input.size}×${det.input.size})` : "no person detector: " +
        "the whole image is one person") + `; ONNX Runtime Web ` +
      `${ort.env.versions ? ort.env.versions.web || meta.ort_version : meta.ort_version}, wasm, ${threads} thread(s)` +
      (threads === 1 && !window.crossOriginIsolated ? " (threads need cross-origin isolation)" : "");
    $("webcam").disabled = false;
    message("Ready: choose an image or start the webcam.", false);
  }

  let queue = Promise.resolve(); // one run at a time, over both sessions: the wasm runtime runs one graph at once

  /** An ONNX file -> run(Float32Array, dims) -> Promise of {data, dims} of its output; UserErrors name the file. */
  async function openSession(ort, file, what, inName, outName) {
    const bytes = await (await fetchOk(file, what)).arrayBuffer();
    let session;
    try {
      session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    } catch (e) {
      throw new UserError(`${what[0].toUpperCase()}${what.slice(1)} (${file}) failed to load: ${describe(e)}`);
    }
    if (!session.inputNames.includes(inName) || !session.outputNames.includes(outName)) {
      throw new UserError(`${file}'s input/output are ${session.inputNames}/${session.outputNames}, ` +
        `meta.json says ${inName}/${outName}: re-export the site.`);
    }
    return (data, dims) => {
      const job = queue.then(async () => {
        const out = await session.run({ [inName]: new ort.Tensor("float32", data, dims) });
        const t = out[outName];
        const res = { data: t.data, dims: t.dims.slice() };
        for (const v of Object.values(out)) if (typeof v.dispose === "function") v.dispose();
        return res;
      });
      queue = job.catch(() => {});
      return job;
    };
  }

  // ------------------------------------------------------------------ hpe serve: on the server or in the browser

  const WHERE = {
    server: "The model runs on the server this page came from: the image is uploaded to it.",
    browser: "The model runs in this browser (ONNX Runtime Web): no image leaves your computer.",
  };

  function startServerMode(meta) {
    state.mode = "server";
    $("modes").hidden = false;
    $("where").textContent = WHERE.server;
    $("webcam").disabled = true;
    $("webcam").title = "the webcam runs in the browser mode";
    $("flip").disabled = true; // the server runs the flip test as it was started with
    $("about").textContent = `${meta.skeleton.name}, served by hpe serve; in the browser: ${meta.browser.reason}`;
    for (const radio of document.querySelectorAll('input[name="mode"]')) {
      radio.addEventListener("change", () => { if (radio.checked) switchMode(radio.value); });
    }
    message("Ready: choose an image (or switch to the browser mode for the webcam).", false);
  }

  /** hpe serve builds the in-browser model on first use: wait for it, then start the runtime here. */
  async function switchMode(mode) {
    state.mode = mode;
    $("where").textContent = WHERE[mode];
    if (state.live) stopWebcam();
    $("flip").disabled = mode === "server";
    if (mode === "server") {
      $("webcam").disabled = true;
      message("Ready: the model runs on the server.", false);
      return;
    }
    try {
      if (!state.pipeline) {
        let meta = state.meta;
        while (!meta.model) {
          if (!meta.browser || !meta.browser.available) throw new UserError(meta.browser ? meta.browser.reason : "no in-browser model");
          message(`${meta.browser.reason}…`, false);
          await new Promise((r) => setTimeout(r, 2000));
          if (state.mode !== "browser") return;
          meta = await loadMeta();
        }
        message("Loading the model into this browser…", false);
        await startBrowser(meta);
      }
      if (state.mode !== "browser") return;
      $("webcam").disabled = false;
      $("webcam").title = "";
      message("Ready: the model runs in this browser.", false);
    } catch (e) {
      message(describe(e), true);
    }
  }

  /** The server's answer for one file, as predictPeople's result, or a UserError with its reason. */
  async function predictOnServer(file) {
    const form = new FormData();
    form.append("image", file, file.name || "image");
    const flip = $("flip").checked;
    const t0 = performance.now();
    let r;
    try {
      r = await fetch("predict", { method: "POST", body: form });
    } catch (e) {
      throw new UserError(`The server cannot be reached: ${describe(e)}`);
    }
    const data = await r.json().catch(() => ({ error: `the server answered ${r.status}` }));
    if (!r.ok) throw new UserError(data.error || `the server answered ${r.status}`);
    const ms = performance.now() - t0;
    const people = data.people.map((p) => ({ box: p.box, box_score: p.box_score ?? null, weak: !!p.weak,
      keypoints: p.keypoints.map((k) => [k[0], k[1]]), scores: p.keypoints.map((k) => k[2]) }));
    return { width: data.width, height: data.height, detector: data.detector ?? null, detected: data.detected ?? null,
      people, flip, ms: { total: ms, model: ms }, server: true };
  }

  // ------------------------------------------------------------------ the API the buttons and the tests use

  async function loaded() {
    await hpe.ready;
    if (!state.pipeline) throw new UserError("The model is not loaded in this browser: choose \"in the browser\" first.");
  }

  /**
   * Predictor's result for `boxes` in `img` (null: the whole image is one person). `scores`: the detector's for
   * detected boxes (null: boxes given, e.g. tracked); `dedupe` drops duplicate people (on for detected ones).
   */
  async function posePeople(img, boxes, { scores = null, detected = null, flip = true, dedupe = scores !== null,
    detectMs = 0 } = {}) {
    const r = await Pose.posePeople(state.pipeline, img, boxes === null ? [[0, 0, img.width, img.height]] : boxes,
      scores, { flip, dedupe: dedupe ? state.meta.pose_nms : null });
    return { width: img.width, height: img.height, detector: scores !== null ? state.meta.detector.name : null,
      detected, people: r.people, keep: r.keep, flip, ms: { ...r.ms, detect: detectMs, total: r.ms.total + detectMs } };
  }

  const hpe = (window.hpe = {
    ready: null, last: null, lastFrame: null, meta: null, threads: null, stats: null,
    /** Keypoints of one person in an ImageData-like {data, width, height}; box [x, y, w, h] or the whole image. */
    async predict(img, { box = null, flip = true } = {}) {
      await loaded();
      return state.pipeline.predict(img, { box, flip });
    },
    /** The detector's people in an ImageData-like: {boxes, scores, found, ms}; null when the site has no detector. */
    async detectPeople(img) {
      await loaded();
      return state.detector ? state.detector.detectPeople(img) : null;
    },
    /** Every person in an ImageData-like, as Predictor(image) finds them: detector -> a pose each -> duplicates out. */
    async predictPeople(img, { flip = true } = {}) {
      await loaded();
      if (!state.detector) return posePeople(img, null, { flip });
      const d = await state.detector.detectPeople(img);
      return posePeople(img, d.boxes, { scores: d.scores, detected: d.found, flip, detectMs: d.ms.total });
    },
    readImage,
  });
  hpe.ready = start();
  hpe.ready.catch((e) => { // marks the rejection handled: the reason is shown, not thrown at the console
    message(describe(e), true);
    $("drop").classList.add("disabled");
  });

  // ------------------------------------------------------------------ reading images

  /** Header-only look at an image (its size), without decoding every pixel: refuses non-images and huge ones. */
  function probe(url, name) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new UserError(`${name}: not an image (unrecognised format or corrupt file).`));
      img.src = url;
    });
  }

  /** A File/Blob -> ImageData (RGB as stored, EXIF orientation applied, transparency on white), like read_image. */
  async function readImage(blob) {
    await hpe.ready;
    const name = blob && blob.name ? blob.name : "the file";
    if (!blob || !blob.size) throw new UserError(`${name}: empty file.`);
    const limit = state.meta.max_image_pixels || 40e6;
    const url = URL.createObjectURL(blob);
    try {
      const probeImg = await probe(url, name);
      const w = probeImg.naturalWidth, h = probeImg.naturalHeight;
      if (!(w > 0 && h > 0)) throw new UserError(`${name}: image has zero size.`);
      if (w * h > limit) {
        throw new UserError(`${name}: image is ${w}×${h} = ${(w * h / 1e6).toFixed(1)} MP, over this page's ` +
          `${limit / 1e6} MP limit: refused (downscale it first).`);
      }
      let bitmap;
      try { // no colour management: the pixels as stored, as Pillow reads them
        bitmap = await createImageBitmap(blob, { imageOrientation: "from-image", colorSpaceConversion: "none",
          premultiplyAlpha: "none" });
      } catch (e) {
        throw new UserError(`${name}: cannot decode the image (${describe(e)}).`);
      }
      const c = document.createElement("canvas");
      c.width = bitmap.width; c.height = bitmap.height;
      const ctx = c.getContext("2d", { willReadFrequently: true });
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, c.width, c.height);
      ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
      return ctx.getImageData(0, 0, c.width, c.height);
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  // ------------------------------------------------------------------ drawing

  const BOX_COLOUR = "#ffd700"; // person boxes, apart from the limbs' colours (as viz.draw_boxes draws them)

  function jointColours(meta) {
    const sk = meta.skeleton;
    if (Array.isArray(sk.joint_colors)) return sk.joint_colors;
    const out = sk.joints.map(() => "#ffffff");
    sk.limbs.forEach(([a, b], i) => { // a joint takes the colour of its last limb: centre joints stay green
      out[a] = sk.colors[i]; out[b] = sk.colors[i];
    });
    return out;
  }

  function drawPerson(ctx, person, meta, thr, lw, colours) {
    const k = person.keypoints, ok = person.scores.map((s) => s >= thr);
    ctx.lineCap = "round";
    meta.skeleton.limbs.forEach(([a, b], i) => {
      if (!ok[a] || !ok[b]) return;
      ctx.strokeStyle = meta.skeleton.colors[i]; ctx.lineWidth = lw;
      ctx.beginPath(); ctx.moveTo(k[a][0], k[a][1]); ctx.lineTo(k[b][0], k[b][1]); ctx.stroke();
    });
    k.forEach((p, j) => {
      if (!ok[j]) return;
      ctx.fillStyle = colours[j]; ctx.strokeStyle = "#fff"; ctx.lineWidth = Math.max(1, lw / 2);
      ctx.beginPath(); ctx.arc(p[0], p[1], lw * 1.6, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    });
  }

  /** The box that was cropped, and the detector's score above it (none for a tracked box); the picked one thicker. */
  function drawBox(ctx, person, lw, label, picked) {
    const [x, y, w, h] = person.box, t = Math.max(1, Math.round(lw / 2)) * (picked ? 2 : 1);
    ctx.strokeStyle = "#000"; ctx.lineWidth = t + 2; ctx.strokeRect(x, y, w, h);
    ctx.strokeStyle = BOX_COLOUR; ctx.lineWidth = t; ctx.strokeRect(x, y, w, h);
    if (!label) return;
    const size = Math.max(11, lw * 5);
    ctx.font = `600 ${size}px system-ui, sans-serif`;
    ctx.textBaseline = "bottom";
    const tx = Math.min(Math.max(0, x), Math.max(0, ctx.canvas.width - ctx.measureText(label).width));
    const ty = Math.max(size, y - 2);
    ctx.lineWidth = 3; ctx.strokeStyle = "#000"; ctx.strokeText(label, tx, ty);
    ctx.fillStyle = BOX_COLOUR; ctx.fillText(label, tx, ty);
  }

  function boxLabel(person, i, many) {
    const score = person.box_score === null || person.box_score === undefined ? "" : person.box_score.toFixed(2);
    return many ? `${i + 1}${score ? ": " + score : ""}` : score;
  }

  function draw() {
    const c = $("canvas"), ctx = c.getContext("2d");
    const img = state.image;
    if (!img) return;
    if (c.width !== img.width || c.height !== img.height) { c.width = img.width; c.height = img.height; }
    if (state.live && state.live.grab.width === img.width) ctx.drawImage(state.live.grab, 0, 0); // canvas to canvas
    else ctx.putImageData(img, 0, 0);
    const r = state.result, meta = state.meta;
    if (r && meta) {
      const thr = parseFloat($("thr").value), colours = jointColours(meta);
      const lw = Math.max(2, Math.round(Math.min(c.width, c.height) / 150));
      const boxes = r.detector !== null || state.detector !== null; // no detector: the whole image, not worth a box
      const many = r.people.length > 1;
      r.people.forEach((person, i) => {
        drawPerson(ctx, person, meta, thr, lw, colours);
        if (boxes) drawBox(ctx, person, lw, boxLabel(person, i, many), many && i === state.pick);
      });
    }
    // the table is rebuilt at most 4 times a second while the webcam runs: 16 rows of DOM a frame cost frames/s
    const now = performance.now();
    if (!state.live || now - (state.tableAt || 0) > 250) {
      state.tableAt = now;
      table();
    }
  }

  /** The person picker above the table: one entry per person (the most confident first), hidden for one or none. */
  function picker() {
    const sel = $("person"), people = state.result ? state.result.people : [];
    if (state.pick >= people.length) state.pick = 0;
    $("personLabel").hidden = people.length < 2;
    const names = people.map((p, i) => `person ${i + 1}` + (p.box_score === null || p.box_score === undefined ? "" :
      ` (detector ${p.box_score.toFixed(2)})`) + (p.weak ? ", weak" : ""));
    if (sel.options.length !== names.length || names.some((n, i) => sel.options[i].text !== n)) {
      sel.replaceChildren(...names.map((n, i) => new Option(n, String(i))));
    }
    sel.value = String(state.pick);
  }

  function table() {
    const body = $("joints").tBodies[0];
    const r = state.result, meta = state.meta;
    picker();
    const person = r && r.people[state.pick];
    if (!person || !meta) { body.innerHTML = ""; return; }
    const thr = parseFloat($("thr").value), colours = jointColours(meta);
    const rows = meta.skeleton.joints.map((name, j) => {
      const tr = document.createElement("tr");
      if (!(person.scores[j] >= thr)) tr.className = "hidden";
      const cells = [name, person.keypoints[j][0].toFixed(1), person.keypoints[j][1].toFixed(1), person.scores[j].toFixed(2)];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        if (i === 0) {
          const sw = document.createElement("span");
          sw.className = "swatch"; sw.style.background = colours[j];
          td.appendChild(sw);
        } else td.className = "num";
        td.appendChild(document.createTextNode(text));
        tr.appendChild(td);
      });
      return tr;
    });
    body.replaceChildren(...rows);
  }

  const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

  // ------------------------------------------------------------------ still images

  /** What was found: "N person(s)" or "No person found", with the cap when more were found than are posed. */
  function peopleSummary(r) {
    const n = r.people.length, det = state.meta.detector;
    if (n === 0) {
      return r.detector ? `No person found (detector ${r.detector}${det ? `, score ≥ ${det.score_threshold}` : ""})`
        : "No person found";
    }
    if (r.detected === null || r.detected === undefined || r.detected <= n) return `${n} person(s)`;
    const cap = det ? det.max_people : n, kept = Math.min(cap, r.detected), dropped = kept - n;
    const dup = dropped > 0 ? `${dropped} duplicate(s) dropped` : "";
    return r.detected > cap ? `${n} person(s) (the ${kept} most confident of ${r.detected} found${dup ? ", " + dup : ""})`
      : `${n} person(s) (${r.detected} found, ${dup})`;
  }

  async function openFile(file) {
    if (!file) return;
    if (state.live) stopWebcam();
    const ticket = ++state.opened; // a newer file, or the webcam, makes this one's late results moot
    const stale = () => ticket !== state.opened;
    $("flip").checked = state.flipStill;
    state.result = null;
    message(`Reading ${file.name || "the image"}…`, false);
    try {
      await hpe.ready;
    } catch (e) {
      message(describe(e), true);
      return;
    }
    try {
      const img = await readImage(file);
      if (stale()) return;
      state.image = img;
      state.result = null;
      draw();
      message(state.detector && state.mode !== "server" ? "Finding people…" : "Predicting…", false);
      await new Promise((r) => setTimeout(r, 0)); // let the message and the image paint first
      const onServer = state.mode === "server";
      const r = onServer ? await predictOnServer(file) : await hpe.predictPeople(img, { flip: state.flipStill });
      if (stale()) return;
      state.result = r;
      state.pick = 0;
      hpe.last = r;
      draw();
      const thr = parseFloat($("thr").value), first = r.people[0];
      const seen = first ? first.scores.filter((s) => s >= thr).length : 0;
      message(`${peopleSummary(r)}, ${state.meta.skeleton.name}, ${img.width}×${img.height}` +
        (first ? `: ${seen} of ${first.scores.length} joints of person 1 above the threshold` : "") +
        (onServer ? ", predicted on the server." : `${r.flip ? ", flip test on" : ""}, predicted in this browser.`), false);
      const detect = r.ms.detect ? `detector ${fmt(r.ms.detect)} ms, ` : "";
      $("fps").textContent = `${fmt(r.ms.total)} ms: ${detect}model ${fmt(r.ms.model)} ms` +
        (r.people.length > 1 ? ` for ${r.people.length} people` : "") +
        ` (${Math.round(100 * (r.ms.model + (r.ms.detect || 0)) / r.ms.total)} %)`;
    } catch (e) {
      if (stale()) return;
      state.image = null;
      state.result = null;
      table();
      message(describe(e), true);
    }
  }

  // ------------------------------------------------------------------ the webcam

  const CAMERA_ERRORS = [ // getUserMedia's DOMException names -> what the user can do about it
    [["NotAllowedError", "SecurityError"],
      "Camera access was denied: allow the camera for this site (the icon in the address bar) and try again."],
    [["NotFoundError", "OverconstrainedError", "DevicesNotFoundError"],
      "No camera was found: connect one, or choose an image instead."],
    [["NotReadableError", "TrackStartError"],
      "The camera is busy or failed to start (another application may be using it)."],
    [["AbortError"], "The camera failed to start: try again."],
  ];

  function cameraError(e) {
    const hit = CAMERA_ERRORS.find(([names]) => names.includes(e && e.name));
    return hit ? hit[1] : `The camera failed: ${describe(e)}`;
  }

  async function startWebcam() {
    try {
      await hpe.ready;
    } catch (e) {
      message(describe(e), true);
      return;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      message("This page cannot use a camera here: browsers allow it only on https:// or http://localhost pages.", true);
      return;
    }
    const button = $("webcam");
    button.disabled = true;
    message("Starting the camera…", false);
    let stream;
    try {
      const size = { width: { ideal: 640 }, height: { ideal: 480 } };
      stream = await navigator.mediaDevices.getUserMedia({ video: size, audio: false });
    } catch (e) {
      button.disabled = false;
      message(cameraError(e), true);
      return;
    }
    const video = document.createElement("video");
    video.muted = true; video.playsInline = true; video.srcObject = stream;
    try {
      await video.play();
    } catch (e) {
      stream.getTracks().forEach((t) => t.stop());
      button.disabled = false;
      message(cameraError(e), true);
      return;
    }
    const grab = document.createElement("canvas");
    state.opened += 1; // a still image still being predicted is not drawn over the webcam
    // tracks: the people followed, {box, quality} (quality: running mean score of its poses); sinceDetect: frames
    // since the detector last ran (Infinity: run it on the first frame)
    const live = { stream, video, grab, ctx: grab.getContext("2d", { willReadFrequently: true }), tracks: [],
      sinceDetect: Infinity, frames: 0, fps: 0, last: 0 };
    state.live = live;
    for (const t of stream.getVideoTracks()) {
      t.addEventListener("ended", () => {
        if (state.live !== live) return;
        stopWebcam();
        message("The camera stopped (unplugged or taken by another application).", true);
      });
    }
    // detections: frames the detector ran on; lost: frames on which tracking from the previous poses lost everyone
    hpe.stats = { frames: 0, fps: 0, frameMs: 0, modelMs: 0, detectMs: 0, detections: 0, lost: 0, people: 0 };
    $("flip").checked = state.flipLive;
    button.textContent = "Stop webcam";
    button.setAttribute("aria-pressed", "true");
    button.disabled = false;
    message(state.detector ? `Webcam: the detector finds the people every ${state.detector.meta.redetect_every} ` +
      "frames (and whenever everyone is lost); in between, each box comes from the person's previous pose." :
      "Webcam: the skeleton follows the person; the box of each frame comes from the previous pose.", false);
    liveLoop(live);
  }

  function stopWebcam() {
    const live = state.live;
    if (!live) return;
    state.live = null;
    live.stream.getTracks().forEach((t) => t.stop());
    live.video.srcObject = null;
    $("webcam").textContent = "Start webcam";
    $("webcam").setAttribute("aria-pressed", "false");
    $("flip").checked = state.flipStill;
  }

  // yield to the browser (it paints the canvas and handles input) without waiting for the next display refresh,
  // which would add up to 16 ms to every frame
  const nextFrame = () => new Promise((r) => setTimeout(r, 0));
  const meanScore = (p) => p.scores.reduce((a, b) => a + Math.max(0, b), 0) / p.scores.length;

  /** The detector on this frame, everyone found posed: the frame's result (tracks start from it). */
  async function detectFrame(live, img) {
    const d = await state.detector.detectPeople(img);
    live.sinceDetect = 0;
    const s = hpe.stats, a = s.detections < 5 ? 0.5 : 0.2;
    s.detections += 1;
    s.detectMs = s.detectMs ? (1 - a) * s.detectMs + a * d.ms.total : d.ms.total;
    return posePeople(img, d.boxes, { scores: d.scores, detected: d.found, flip: state.flipLive, detectMs: d.ms.total });
  }

  /**
   * One webcam frame -> its result and the next frame's tracks. The detector runs on the first frame, every
   * redetect_every frames and when tracking lost everyone; otherwise each person is posed in the box around their
   * previous pose (grown as training boxes were, enlarged 15 %). A track ends when too few joints are found or
   * the confidence drops suddenly (the box slid off the person onto a part of them); duplicates (two tracks on
   * one person) are dropped as for detected people. Without a detector: one person, the whole frame when lost.
   */
  async function liveFrame(live, img) {
    const det = state.detector, flip = state.flipLive;
    let r;
    live.sinceDetect += 1;
    if (det && (!live.tracks.length || live.sinceDetect >= det.meta.redetect_every)) r = await detectFrame(live, img);
    else {
      const boxes = live.tracks.length ? live.tracks.map((t) => t.box) : null; // null: the whole frame
      r = await posePeople(img, boxes, { flip, dedupe: boxes !== null && boxes.length > 1 });
    }
    const thr = parseFloat($("thr").value);
    const follow = (people, previous) => people.map((p, i) => {
      const box = Pose.boxFromPose(p.keypoints, p.scores, thr, img.width, img.height);
      const q = meanScore(p), before = previous[i] ? previous[i].quality : 0;
      if (!box || (before && q < 0.8 * before)) return null;
      return { box, quality: before ? 0.7 * before + 0.3 * q : q };
    }).filter((t) => t !== null);
    const previous = r.detector === null ? r.keep.map((i) => live.tracks[i] || null) : []; // the track each came from
    let tracks = follow(r.people, previous);
    if (!tracks.length && r.detector === null && live.tracks.length) { // tracking lost everyone: look again now
      hpe.stats.lost += 1;
      const poseMs = r.ms.model;
      r = det ? await detectFrame(live, img) : await posePeople(img, null, { flip }); // no detector: the whole frame
      r.ms.model += poseMs;
      tracks = follow(r.people, []);
    }
    return { r, tracks };
  }

  async function liveLoop(live) {
    try {
      while (state.live === live) {
        const v = live.video;
        if (v.readyState < 2 || !v.videoWidth) { await nextFrame(); continue; }
        const t0 = performance.now();
        const w = v.videoWidth, h = v.videoHeight;
        if (live.grab.width !== w || live.grab.height !== h) { // a new camera size: start again
          live.grab.width = w; live.grab.height = h; live.tracks = []; live.sinceDetect = Infinity;
        }
        live.ctx.drawImage(v, 0, 0, w, h);
        const img = live.ctx.getImageData(0, 0, w, h);
        const { r, tracks } = await liveFrame(live, img);
        if (state.live !== live) break;
        live.tracks = tracks;
        state.image = img;
        state.result = r;
        hpe.last = r;
        hpe.lastFrame = img; // the pixels hpe.last was predicted on (the webcam test compares them with Python)
        draw();
        const t1 = performance.now();
        live.frames += 1;
        const interval = live.last ? t1 - live.last : t1 - t0;
        live.last = t1;
        const a = live.frames < 5 ? 0.5 : 0.1; // moving averages that settle fast
        live.fps = live.fps ? (1 - a) * live.fps + a * (1000 / interval) : 1000 / interval;
        const s = hpe.stats;
        s.frames = live.frames; s.fps = live.fps; s.people = r.people.length;
        s.frameMs = s.frameMs ? (1 - a) * s.frameMs + a * interval : interval;
        s.modelMs = s.modelMs ? (1 - a) * s.modelMs + a * r.ms.model : r.ms.model;
        const detector = state.detector ? `, detector ${fmt(s.detectMs)} ms on ${s.detections} of ${s.frames} frames` : "";
        $("fps").textContent = `${live.fps.toFixed(1)} frames/s: model ${fmt(s.modelMs)} ms of ${fmt(s.frameMs)} ms per ` +
          `frame (${Math.round(100 * s.modelMs / s.frameMs)} %)${detector}; ${r.people.length} person(s)` +
          (state.detector || live.tracks.length ? "" : ", searching the whole frame");
        await nextFrame();
      }
    } catch (e) {
      if (state.live === live) stopWebcam();
      message(`Webcam stopped: ${describe(e)}`, true);
    }
  }

  // ------------------------------------------------------------------ wiring

  $("drop").addEventListener("click", () => $("file").click());
  $("drop").addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file").click(); } });
  $("file").addEventListener("change", (e) => { openFile(e.target.files[0]); e.target.value = ""; });
  $("drop").addEventListener("dragover", (e) => { e.preventDefault(); $("drop").classList.add("over"); });
  $("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
  $("drop").addEventListener("drop", (e) => {
    e.preventDefault();
    $("drop").classList.remove("over");
    openFile(e.dataTransfer && e.dataTransfer.files[0]);
  });
  $("thr").addEventListener("input", () => { $("thrOut").textContent = parseFloat($("thr").value).toFixed(2); draw(); });
  $("flip").addEventListener("change", () => {
    if (state.live) state.flipLive = $("flip").checked;
    else state.flipStill = $("flip").checked;
  });
  $("webcam").addEventListener("click", () => { if (state.live) stopWebcam(); else startWebcam(); });
  $("person").addEventListener("change", () => { state.pick = Number($("person").value) || 0; draw(); });
  // a last net: whatever slipped through is shown on the page instead of thrown at the console
  window.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    message(`Unexpected error: ${describe(e.reason)}`, true);
  });
  window.addEventListener("error", (e) => {
    e.preventDefault();
    message(`Unexpected error: ${describe(e.error || e.message)}`, true);
  });
})();
