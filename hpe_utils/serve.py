"""Serving: a FastAPI app (``hpe serve``) with a web page, and an AWS Lambda handler, sharing one core.

Both take an image (multipart field ``image`` or a raw body), optional ``boxes`` (JSON list of
[x, y, w, h]) and ``format=png`` for an overlay instead of JSON. Client mistakes get 400/413/415 with
``{"error": "…"}``; nothing a client sends produces a 5xx. The status comes from the error's *type*
(:mod:`hpe_utils.errors`), never from its message: an :class:`~hpe_utils.errors.InputError` is the client's,
anything else is a bug of ours, logged with its traceback and answered with a generic 500.
"""
# No `from __future__ import annotations` here: FastAPI reads the route functions' annotations at run time,
# and Request is imported inside create_app.
import base64
import json
import logging
import math
import os
import socket
import threading
import time
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

import numpy as np

from .errors import ImageError, ImageTooLargeError, InputError, NotAnImageError
from .images import DEFAULT_MAX_PIXELS, encode_png, read_image
from .predictor import Predictor
from .viz import SCORE_THRESHOLD, draw_boxes, draw_people
from .web import DETECTOR_FILE, ISOLATION_HEADERS, ORT_FILES, PAGE_FILES, BrowserSite, skeleton_record

log = logging.getLogger("hpe_utils.serve")

DEFAULT_MAX_UPLOAD = 10 * 1024 * 1024  # 10 MB
MULTIPART_SLACK = 64 * 1024  # multipart framing around the image: a body may exceed max_upload by this much
FORMATS_HINT = "; send JPEG, PNG, WebP, BMP or TIFF"
INTERNAL_ERROR = "internal error: the server could not process this request"


class ClientError(Exception):
    """A request we refuse: carries the HTTP status and a one-line reason for ``{"error": …}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def client_error(exc: InputError) -> ClientError:
    """An input error as a response, its status from its type: 413 too large, 415 not an image, else 400."""
    if isinstance(exc, ImageTooLargeError):
        return ClientError(413, str(exc))
    if isinstance(exc, NotAnImageError):
        return ClientError(415, str(exc) + FORMATS_HINT)
    return ClientError(400, str(exc))


def internal_error(where: str) -> tuple[int, dict[str, str]]:
    """Log the exception being handled, with its traceback, and give the client a 500 that reveals nothing of it."""
    log.exception("internal error in %s", where)
    return 500, {"error": INTERNAL_ERROR}


@dataclass(frozen=True)
class Limits:
    max_upload: int = DEFAULT_MAX_UPLOAD
    max_pixels: int = DEFAULT_MAX_PIXELS


def parse_boxes(text: str | None) -> list[list[float]] | None:
    """``boxes`` parameter: a JSON list of [x, y, w, h] (or one box); None when absent or empty."""
    if text is None or not str(text).strip():
        return None
    try:
        boxes = json.loads(text)
    except (ValueError, TypeError):
        raise ClientError(400, "boxes must be JSON: a list of [x, y, w, h]") from None
    if isinstance(boxes, list) and boxes and all(isinstance(v, (int, float)) for v in boxes):
        boxes = [boxes]
    if not (isinstance(boxes, list) and len(boxes) <= 100 and all(
            isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                        and np.isfinite(v) for v in b) and b[2] > 0 and b[3] > 0
            for b in boxes)):
        raise ClientError(400, "boxes must be a list of at most 100 [x, y, w, h] with finite numbers and w, h > 0")
    return boxes or None


def image_from_multipart(body: bytes, content_type: str) -> tuple[bytes, dict[str, str]]:
    """The ``image`` part and the plain form fields of a multipart/form-data body (stdlib parser)."""
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise ClientError(400, "malformed multipart body")
    image: bytes | None = None
    fields: dict[str, str] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "image":
            image = payload
        elif name:
            fields[str(name)] = payload.decode("utf-8", "replace")
    if image is None:
        raise ClientError(400, "multipart body has no 'image' field")
    return image, fields


def decode_upload(data: bytes, limits: Limits) -> np.ndarray:
    """Bytes -> RGB image, mapping every failure to the right client status."""
    if not data:
        raise ClientError(400, "empty upload: send an image file")
    if len(data) > limits.max_upload:
        raise ClientError(413, f"upload is {len(data) / 1e6:.1f} MB, over the {limits.max_upload / 1e6:g} MB limit")
    try:
        return read_image(data, max_pixels=limits.max_pixels, name="upload")
    except ImageError as e:  # any other exception from the reader is a bug of ours: a 500
        raise client_error(e) from None


def run_prediction(predictor: Any, data: bytes, boxes: Sequence[Sequence[float]] | None, fmt: str, threshold: float,
                   limits: Limits, name: str | None = None) -> tuple[str, bytes]:
    """The shared core: (media type, body) for a JSON record or a PNG overlay."""
    if fmt not in ("json", "png"):
        raise ClientError(400, "format must be json or png")
    if not (0.0 <= threshold <= 1.0):
        raise ClientError(400, "threshold must be between 0 and 1")
    rgb = decode_upload(data, limits)
    try:
        result = predictor(rgb, boxes)
    except InputError as e:  # boxes the predictor refuses; a plain ValueError is a bug of ours, not the client's
        raise client_error(e) from None
    result.image = name
    if fmt == "png":
        drawn = draw_people(rgb, [(p.keypoints, p.scores) for p in result.people], predictor.skeleton, threshold)
        drawn = draw_boxes(drawn, [p.box for p in result.people], [p.box_score for p in result.people], copy=False)
        return "image/png", encode_png(drawn)
    return "application/json", json.dumps(result.to_json()).encode()


def skeleton_info(predictor: Any) -> dict[str, Any]:
    """What the web page needs to draw: joint names, limbs and their colours."""
    sk = predictor.skeleton
    return {"name": sk.name, "joints": list(sk.joints), "limbs": [list(l) for l in sk.limbs],
            "limb_colours": ["#%02x%02x%02x" % c for c in sk.limb_colours()],
            "joint_colours": ["#%02x%02x%02x" % c for c in sk.joint_colours()]}


# ------------------------------------------------------------------ FastAPI

class InternalErrors:
    """ASGI middleware: an exception no handler took is logged once and answered with a generic JSON 500.

    Starlette's own last resort (a 500 handler) re-raises after answering, so the server would log it twice.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from fastapi.responses import JSONResponse

        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            status, body = internal_error(f"{scope.get('method', '?')} {scope.get('path', '?')}")
            if started:  # too late for a clean answer: let the server close the connection
                raise
            await JSONResponse(body, status_code=status)(scope, receive, send)


# the in-browser site's own files, by the name the page asks for, and how each is served
SITE_MEDIA = {"meta.json": "application/json", "model.onnx": "application/octet-stream",
              "model.fp16.onnx": "application/octet-stream", DETECTOR_FILE: "application/octet-stream"}
PAGE_MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
              ".mjs": "text/javascript; charset=utf-8", ".wasm": "application/wasm"}


def create_app(weights: str = "default", *, backend: str | None = None, device: str = "cpu", limits: Limits = Limits(),
               concurrency: int = 2, predictor: Any = None, web_site: Any = "auto", detector: Any = "default") -> Any:
    """The REST API and the web page. The model is loaded once here; inference runs in worker threads.

    A request without boxes has its people found by ``detector`` (the shipped CenterNet; None: the whole image is
    one person), loaded and verified here, so a missing or altered detector file stops the server at start.

    The page (the same files as ``hpe export --format web``) can run the model on this server or in the
    browser; for the latter the app serves a site made for its weights: ``web_site`` is such a folder, "auto"
    (build one in the download cache in a background thread, when ONNX Runtime Web is at hand) or None (off).
    """
    import anyio
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from starlette.exceptions import HTTPException as StarletteHTTPException

    # a server sees many images: with backend auto it answers on eager PyTorch at once and measures the engines
    # in a background thread (cached afterwards), switching to the fastest when that is done
    pred = predictor or Predictor(weights, backend=backend, device=device, progress=False, expected_images=math.inf,
                                  background=True, log=log.info, detector=detector)
    getattr(pred, "detector", None)  # load it now, not on the first request
    limiter = anyio.CapacityLimiter(concurrency)
    app = FastAPI(title="hpe-workbook pose API", version="0.1.0",
                  description="Simple Baselines 2D human pose estimation. POST an image to /predict.")

    app.add_middleware(InternalErrors)

    @app.exception_handler(ClientError)
    async def _client_error(_: Request, exc: ClientError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        return JSONResponse({"error": f"bad request: {first.get('msg', 'invalid parameters')} "
                                      f"({'.'.join(str(p) for p in first.get('loc', []))})"}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    site = BrowserSite(web_site, weights if predictor is None else None, log=log.info)

    def site_file(name: str) -> bytes:
        try:
            return site.read(name)
        except FileNotFoundError as e:
            raise ClientError(404, str(e)) from None
        except LookupError as e:  # not built (yet): the page shows this and retries while it is being built
            raise ClientError(503, str(e)) from None

    def page_meta() -> dict[str, Any]:
        """The site's meta.json when it is built, plus what the server offers; without a site, enough to draw."""
        meta: dict[str, Any] = {"format": "hpe-web/1", "score_threshold": SCORE_THRESHOLD,
                                "skeleton": skeleton_record(pred.skeleton)}
        try:
            meta.update(json.loads(site.read("meta.json")))  # starts building it on first use
        except (LookupError, FileNotFoundError):
            pass
        meta.update(server={"predict": "predict", "health": "health"}, browser=site.status(),
                    max_image_pixels=limits.max_pixels)
        return meta

    def page_file(name: str) -> Response:
        data = resources.files("hpe_utils").joinpath(f"static/web/{name}").read_bytes()
        return Response(data, media_type=PAGE_MEDIA[os.path.splitext(name)[1]], headers=ISOLATION_HEADERS)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> Response:
        return page_file("index.html")

    @app.get("/ort/{name}", include_in_schema=False)
    async def runtime_file(name: str) -> Response:
        if name not in ORT_FILES:
            raise ClientError(404, f"no such file: /ort/{name}")
        return Response(site_file(f"ort/{name}"), media_type=PAGE_MEDIA[os.path.splitext(name)[1]], headers=ISOLATION_HEADERS)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness plus what is being served."""
        return {"status": "ok", "skeleton": pred.skeleton.name, "input_size": list(pred.input_size),
                "backend": pred.backend.name, "flip_test": pred.flip, "refine": pred.codec.refine,
                "detector": getattr(getattr(pred, "detector", None), "name", None),
                # auto's background measurement still running: the backend above may change
                "measuring_engines": not getattr(pred, "wait_for_backend", lambda _t: True)(0),
                "limits": {"max_upload_bytes": limits.max_upload, "max_pixels": limits.max_pixels},
                "browser_inference": site.status()}

    @app.get("/skeleton")
    async def skeleton() -> dict[str, Any]:
        """Joint names, limbs and colours, for drawing the result."""
        return skeleton_info(pred)

    @app.post("/predict", responses={200: {"content": {"application/json": {}, "image/png": {}}},
                                     400: {"description": "bad input"}, 413: {"description": "too large"},
                                     415: {"description": "not an image"}, 500: {"description": "a bug of ours, logged"}})
    async def predict(request: Request, format: str = "json", boxes: str | None = None,
                      threshold: float = SCORE_THRESHOLD) -> Response:
        """Multipart field ``image`` or a raw image body -> the ``hpe predict --json`` record (or a PNG overlay)."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limits.max_upload + MULTIPART_SLACK:
            raise ClientError(413, f"upload over the {limits.max_upload / 1e6:g} MB limit")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limits.max_upload + MULTIPART_SLACK:
                raise ClientError(413, f"upload over the {limits.max_upload / 1e6:g} MB limit")
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            data, fields = image_from_multipart(bytes(body), ctype)
            boxes = boxes or fields.get("boxes")
        else:
            data = bytes(body)
        parsed = parse_boxes(boxes)
        media, out = await anyio.to_thread.run_sync(
            lambda: run_prediction(pred, data, parsed, format, threshold, limits), limiter=limiter)
        return Response(out, media_type=media)

    @app.get("/{name}", include_in_schema=False)
    async def page_or_site_file(name: str) -> Response:
        if name in PAGE_FILES:
            return page_file(name)
        if name == "meta.json":  # always 200: the page learns from it whether and how the model can run in it
            return JSONResponse(page_meta(), headers=ISOLATION_HEADERS)
        if name in SITE_MEDIA:
            return Response(site_file(name), media_type=SITE_MEDIA[name], headers=ISOLATION_HEADERS)
        raise ClientError(404, f"no such page: /{name}")

    app.state.predictor = pred
    app.state.web_site = site
    return app


class BackgroundServer:
    """Run an app with uvicorn in a thread on a free loopback port (notebooks, tests, benchmarks).

    ``with BackgroundServer(app) as url: ...`` — the server stops when the block ends.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0) -> None:
        import uvicorn

        if port == 0:
            with socket.socket() as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
        self.url = f"http://{host}:{port}"
        self.timeout = timeout
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.thread: Any = None

    def start(self) -> str:
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + self.timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server at {self.url} did not start")
            time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(host: str = "127.0.0.1", port: int = 8000, **kwargs: Any) -> None:
    """Run the API with uvicorn (``hpe serve``)."""
    import uvicorn

    uvicorn.run(create_app(**kwargs), host=host, port=port, log_level="info")


# ------------------------------------------------------------------ AWS Lambda

CORS_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET,POST,OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type"}


@lru_cache(maxsize=1)
def _lambda_predictor() -> Any:
    """One predictor per warm Lambda container (weights from $HPE_WEIGHTS, default 'default'; the person
    detector from $HPE_DETECTOR, default the shipped one, 'none' for the whole image).

    Backend: $HPE_BACKEND or auto, which on a cold start loads a choice cached in the image (or runs eager
    PyTorch): measuring there would add a minute to the first request.
    """
    spec = os.environ.get("HPE_DETECTOR", "default")
    pred = Predictor(os.environ.get("HPE_WEIGHTS", "default"), progress=False, detector=None if spec == "none" else spec)
    pred.detector  # loaded with the container, not inside the first request's time
    return pred


def _lambda_response(status: int, body: bytes | str, media: str = "application/json") -> dict[str, Any]:
    if media == "image/png":
        return {"statusCode": status, "headers": {**CORS_HEADERS, "Content-Type": media},
                "body": base64.b64encode(body if isinstance(body, bytes) else body.encode()).decode(), "isBase64Encoded": True}
    return {"statusCode": status, "headers": {**CORS_HEADERS, "Content-Type": media},
            "body": body.decode() if isinstance(body, bytes) else body, "isBase64Encoded": False}


def lambda_handler(event: dict[str, Any], context: Any = None, *, predictor: Any = None, limits: Limits = Limits()) -> dict[str, Any]:
    """API Gateway proxy events (REST v1 and HTTP v2) -> the same JSON/PNG and error codes as the REST API.

    A bug of ours is logged with its traceback and answered 500, not raised: API Gateway would answer a raised
    one with a bare 5xx without CORS headers, which a browser reports as a network error.
    """
    try:
        if not isinstance(event, dict):
            raise ClientError(400, "event must be an API Gateway proxy event")
        method = event.get("httpMethod") or event.get("requestContext", {}).get("http", {}).get("method", "POST")
        if method == "OPTIONS":
            return {"statusCode": 204, "headers": CORS_HEADERS, "body": ""}
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        query = event.get("queryStringParameters") or {}
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                data = base64.b64decode(raw, validate=True)
            except (ValueError, TypeError):
                raise ClientError(400, "body is not valid base64") from None
        else:
            data = raw.encode("latin-1", "replace") if isinstance(raw, str) else bytes(raw)
        if len(data) > limits.max_upload + MULTIPART_SLACK:
            raise ClientError(413, f"upload over the {limits.max_upload / 1e6:g} MB limit")
        ctype = headers.get("content-type", "")
        boxes = query.get("boxes")
        if ctype.startswith("multipart/form-data"):
            data, fields = image_from_multipart(data, ctype)
            boxes = boxes or fields.get("boxes")
        try:
            threshold = float(query.get("threshold", SCORE_THRESHOLD))
        except ValueError:
            raise ClientError(400, "threshold must be a number") from None
        pred = predictor or _lambda_predictor()
        media, out = run_prediction(pred, data, parse_boxes(boxes), query.get("format", "json"), threshold, limits)
        return _lambda_response(200, out, media)
    except ClientError as e:
        return _lambda_response(e.status, json.dumps({"error": e.message}))
    except Exception:
        status, body = internal_error("lambda_handler")
        return _lambda_response(status, json.dumps(body))


__all__ = ["BackgroundServer", "ClientError", "Limits", "MULTIPART_SLACK", "create_app", "lambda_handler",
           "client_error", "decode_upload", "image_from_multipart", "internal_error", "parse_boxes", "run_prediction", "serve",
           "skeleton_info"]
