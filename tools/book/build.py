"""Build the course website (``make book``): Sphinx + MyST-NB over a staged copy of the course, fully offline.

    python tools/book/build.py [--out build/book] [--src build/book_src] [--check]

Stages a fresh source tree (``book/``, the notebooks as stored with a Colab button and a download link, the
reference pages of ``docs/``, ``weights/``, ``bench/`` and ``deploy/``, and the generated pages: the exercise
table, the API reference, the landing picture), runs ``sphinx-build`` into ``--out``, then writes the in-browser
site (``hpe export --format web``) under ``--out``/live/. The notebooks are not executed unless
``HPE_BOOK_EXECUTE=1`` (MyST-NB's "force"). ``--check`` only says whether ``--out`` is a build of the current
inputs (exit 0) or not (exit 1): tests/test_book.py reuses a fresh build/book instead of building again.
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

REPO = Path(__file__).resolve().parents[2]
BOOK = REPO / "book"
STAMP = ".book-inputs.sha256"  # in the built site: the digest of everything it was built from
NOTEBOOK_GLOB = "notebooks/[0-9][0-9]_*.ipynb"
MODEL_CARDS = "weights/README.md"
BENCH_GLOB = "bench/results_*.md"
DEPLOY_PAGES = ("deploy/README.md", "deploy/static-site.md")  # Lambda, then any static host
LANDING_IMAGE = "data/messi_kick.webp"
LIVE_IMAGES = 3  # shipped_images()[:3]: what export_web verifies the live site's models on
INPUT_GLOBS = ("book/**/*", "tools/book/*.py", NOTEBOOK_GLOB, "docs/**/*", MODEL_CARDS, "weights/*.png", BENCH_GLOB,
               "deploy/*.md", "README.md", "pyproject.toml", "constraints.txt", "hpe_utils/**/*.py",
               "hpe_utils/static/web/*", "weights/hpe_default.pt", LANDING_IMAGE)
DOCS_FIRST = ("learning-path", "notebooks", "usage")  # the Reference section's first pages, when present

# a Markdown link or image [text](target "title"), a reference definition, an HTML href/src
MD_LINK = re.compile(r"(!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\()(<[^>]+>|[^)\s]+)((?:\s+\"[^\"]*\")?\))")
MD_REF = re.compile(r"^( {0,3}\[[^\]]+\]:\s*)(\S+)", re.M)
HTML_ATTR = re.compile(r"""(\b(?:href|src)=["'])([^"']+)(["'])""")
TABLE_RULE = re.compile(r"^\|[\s:|-]+$")  # the line under a Markdown table's header
FENCE = re.compile(r"^\s*(```|~~~)")
REMOTE_IMAGE = re.compile(r"!\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(https?://[^)\s]+(?:\s+\"[^\"]*\")?\)")


def log(message: str) -> None:
    """Progress on stdout, flushed (make shows it as it happens)."""
    print(message, flush=True)


# ------------------------------------------------------------------ inputs and freshness

def input_files() -> list[Path]:
    """Every file the site is built from (its digest decides whether a build is fresh)."""
    seen: set[Path] = set()
    for pattern in INPUT_GLOBS:
        seen.update(p for p in REPO.glob(pattern) if p.is_file() and "__pycache__" not in p.parts)
    return sorted(seen)


def inputs_digest() -> str:
    """SHA-256 over the inputs' paths and bytes, and whether the notebooks are executed."""
    from hpe_utils.download import sha256_file

    h = hashlib.sha256(f"execute={os.environ.get('HPE_BOOK_EXECUTE') == '1'}\n".encode())
    for path in input_files():
        h.update(str(path.relative_to(REPO)).encode() + b"\0")
        h.update(sha256_file(path).encode())
    return h.hexdigest()


def is_fresh(out: Path) -> bool:
    """True when ``out`` is a complete build of the current inputs."""
    stamp = out / STAMP
    return (out / "index.html").is_file() and (out / "live" / "index.html").is_file() and stamp.is_file() \
        and stamp.read_text().strip() == inputs_digest()


# ------------------------------------------------------------------ links inside the copied pages

def github_url(repo_path: str) -> str:
    """The repository file or folder on GitHub (for links to files that are not pages of the site)."""
    from hpe_utils.notebook import REPO_URL

    kind = "tree" if (REPO / repo_path).is_dir() else "blob"
    return f"{REPO_URL}/{kind}/main/{repo_path}"


class Linker:
    """Rewrites relative links of a page copied from ``src`` (repository path) to ``dst`` (its path in the site).

    A link to a page of the site points at that page; an image (or a file ``src=``'d by HTML) is copied into the
    staged tree beside it; anything else in the repository becomes its GitHub URL, so no internal link breaks. A
    remote image (a Colab badge) becomes its alt text: the site loads nothing from another host.
    """

    def __init__(self, staged: Path, pages: dict[str, str]) -> None:
        self.staged, self.pages = staged, pages  # repo path -> staged path, both relative, "/"-separated

    def target(self, target: str, src: str, dst: str, *, embed: bool) -> str:
        bare = target[1:-1] if target.startswith("<") and target.endswith(">") else target
        if not bare or bare.startswith(("#", "/", "mailto:", "data:")) or re.match(r"^[a-z][a-z0-9+.-]*:", bare):
            return target
        path, sep, anchor = bare.partition("#")
        repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(src), path))
        if repo_path.startswith("../"):
            return target  # outside the repository: left as written
        here = posixpath.dirname(dst) or "."
        if repo_path in self.pages:
            return posixpath.relpath(self.pages[repo_path], here) + sep + anchor
        source = REPO / repo_path
        if embed and source.is_file():
            copy = self.staged / repo_path
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy)
            return posixpath.relpath(repo_path, here)
        return github_url(repo_path) + sep + anchor

    def markdown(self, text: str, src: str, dst: str) -> str:
        """``text`` with every relative link outside code fences rewritten."""
        out, fenced = [], False
        for line in text.splitlines(keepends=True):
            if FENCE.match(line):
                fenced = not fenced
            if not fenced:
                line = REMOTE_IMAGE.sub(lambda m: m[1] or "image", line)  # the site loads nothing from elsewhere
                line = MD_LINK.sub(lambda m: m[1] + self.target(m[2], src, dst, embed=m[1].startswith("!")) + m[3], line)
                line = HTML_ATTR.sub(lambda m: m[1] + self.target(m[2], src, dst, embed=m[1].lstrip().startswith("src"))
                                     + m[3], line)
                line = MD_REF.sub(lambda m: m[1] + self.target(m[2], src, dst, embed=False), line)
            out.append(line)
        return "".join(out)

    def page(self, src: str, dst: str, *, title: str | None = None) -> None:
        """Copy the Markdown page ``src`` to ``dst`` in the staged tree, links rewritten (``title``: when it has none)."""
        body = (REPO / src).read_text(encoding="utf-8")
        if title and not re.search(r"^# ", body, re.M):
            body = f"# {title}\n\n{body}"
        target = self.staged / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.markdown(body, src, dst), encoding="utf-8")


# ------------------------------------------------------------------ what the pages quote, read at build time

def markdown_sources() -> list[Path]:
    """Where the course's prose lives: the README, then docs/ (pages may move from one to the other)."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def is_header(lines: list[str], i: int, has: str) -> bool:
    """True when line ``i`` is a Markdown table's header (the rule follows it) and contains ``has``."""
    return lines[i].startswith("|") and has in lines[i].lower() and i + 1 < len(lines) \
        and bool(TABLE_RULE.match(lines[i + 1].strip()))


def table_rows(text: str, header_has: str) -> list[list[str]]:
    """The body rows of the first Markdown table whose header line contains ``header_has`` (cells stripped)."""
    lines = text.splitlines()
    for i in range(len(lines)):
        if is_header(lines, i, header_has):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in row.strip().strip("|").split("|")])
            return rows
    return []


def study_times() -> dict[str, tuple[str, str]]:
    """Notebook number -> (study time, what you can then do), from the "Learn by doing" table (README or docs/)."""
    for source in markdown_sources():
        rows = table_rows(source.read_text(encoding="utf-8"), "study time")
        if rows:
            return {r[0].split()[0]: (r[1], r[2] if len(r) > 2 else "") for r in rows if r and r[0][:2].isdigit()}
    log("warning: no study-time table (a header with 'study time') in README.md or docs/*.md")
    return {}


def thread_timings() -> str:
    """The in-browser benchmark's table (plain host vs cross-origin isolated host), quoted as measured."""
    for source in markdown_sources():
        lines = source.read_text(encoding="utf-8").splitlines()
        for i in range(len(lines)):
            if is_header(lines, i, "cross-origin isolated host"):
                end = i
                while end < len(lines) and lines[end].startswith("|"):
                    end += 1
                where = "README.md" if source.name == "README.md" else f"docs/{source.name}"
                return "\n".join(lines[i:end]) + f"\n\n*Quoted from `{where}` when this site was built.*"
    log("warning: the in-browser benchmark table was not found in README.md or docs/*.md")
    return "*(the benchmark table of `python bench/web_page.py` was not found when this site was built)*"


def notebook_title(nb: dict[str, Any], fallback: str) -> str:
    """The notebook's first "# " heading (its page title)."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


# ------------------------------------------------------------------ staging

def stage_notebooks(staged: Path, linker: Linker) -> list[tuple[str, str]]:
    """Each notebook as stored, a first cell with its Colab button and download link; (name, title) in order."""
    from hpe_utils.notebook import colab_url

    out = []
    (staged / "notebooks").mkdir(parents=True, exist_ok=True)
    (staged / "_extra" / "notebooks").mkdir(parents=True, exist_ok=True)
    for path in sorted(REPO.glob(NOTEBOOK_GLOB)):
        name, rel = path.stem, f"notebooks/{path.name}"
        shutil.copyfile(path, staged / "_extra" / rel)  # the download: the notebook exactly as committed
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                cell["source"] = linker.markdown("".join(cell["source"]), rel, rel)
        links = (f'<p class="hpe-notebook-links"><a class="hpe-button hpe-colab" href="{colab_url(name)}">Open in Colab'
                 f'</a> <a class="hpe-button hpe-download" href="{path.name}" download>Download this notebook</a></p>')
        nb["cells"].insert(0, {"cell_type": "markdown", "id": "hpe-book-links", "metadata": {}, "source": links})
        (staged / rel).write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
        out.append((name, notebook_title(nb, name)))
    return out


def landing_picture(path: Path) -> None:
    """The default model's pose of the Messi photo, drawn by the library (made here, so nothing binary is committed)."""
    from PIL import Image

    from hpe_utils.images import read_image
    from hpe_utils.predictor import Predictor
    from hpe_utils.viz import draw_skeleton

    rgb = read_image(REPO / LANDING_IMAGE)
    result = Predictor("default", backend="torch", progress=False)(rgb)
    drawn = rgb
    for person in result.people:
        drawn = draw_skeleton(drawn, person.keypoints, person.scores, result.skeleton)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(drawn).save(path, optimize=True)


def api_page() -> str:
    """api.md: autodoc for every public name of ``hpe_utils.__all__``, grouped by the module that defines it."""
    import hpe_utils

    public: dict[str, str] = getattr(hpe_utils, "_PUBLIC")  # name -> module: where autodoc finds each docstring
    lines = ["# API reference", "",
             "Every public name of `hpe_utils` (`hpe_utils.__all__`), importable from the package itself "
             "(`from hpe_utils import Predictor`), documented from its docstrings when this site was built.", ""]
    current = None
    for name in hpe_utils.__all__:
        module = public.get(name)
        if module is None:
            continue  # __version__
        if module != current:
            current = module
            lines += [f"## `hpe_utils.{module}`", ""]
        obj = getattr(hpe_utils, name)
        qual = f"hpe_utils.{module}.{name}"
        if inspect.isclass(obj):
            block = [f".. autoclass:: {qual}", "   :members:"]
        elif callable(obj):
            block = [f".. autofunction:: {qual}"]
        else:
            keys = ""
            if isinstance(obj, dict):
                keys = "; keys: " + ", ".join(f"``{k}``" for k in list(obj)[:16]) + (", …" if len(obj) > 16 else "")
            block = [f".. py:data:: {qual}", f"   :type: {type(obj).__name__}", "",
                     f"   Defined in ``hpe_utils.{module}``{keys}."]
        lines += ["```{eval-rst}", *block, "```", ""]
    return "\n".join(lines)


def toctree(caption: str, entries: Iterable[str]) -> str:
    """A MyST toctree block."""
    return "\n".join(["```{toctree}", f":caption: {caption}", ":maxdepth: 1", "", *entries, "```", ""])


def stage(staged: Path) -> None:
    """A fresh source tree for Sphinx: book/, the notebooks, the reference pages and the generated pages."""
    from hpe_utils.exercises import EXERCISES, exercises_table

    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(BOOK, staged, ignore=shutil.ignore_patterns("__pycache__"))
    docs = sorted((REPO / "docs").glob("*.md"), key=lambda p: (p.stem not in DOCS_FIRST,
                                                                 DOCS_FIRST.index(p.stem) if p.stem in DOCS_FIRST else 0,
                                                                 p.stem))
    benches = sorted(REPO.glob(BENCH_GLOB))
    pages = {f"docs/{p.name}": f"docs/{p.name}" for p in docs}
    pages.update({MODEL_CARDS: MODEL_CARDS, **{d: d for d in DEPLOY_PAGES}})
    pages.update({f"bench/{p.name}": f"bench/{p.name}" for p in benches})
    pages.update({f"notebooks/{p.name}": f"notebooks/{p.name}" for p in REPO.glob(NOTEBOOK_GLOB)})
    linker = Linker(staged, pages)

    notebooks = stage_notebooks(staged, linker)
    for p in docs:
        linker.page(f"docs/{p.name}", f"docs/{p.name}", title=p.stem.replace("-", " ").capitalize())
    linker.page(MODEL_CARDS, MODEL_CARDS, title="Model cards")
    for d in DEPLOY_PAGES:
        linker.page(d, d, title=Path(d).stem)
    for p in benches:
        linker.page(f"bench/{p.name}", f"bench/{p.name}",
                    title=f"Benchmark: {p.stem.removeprefix('results_').replace('_', ' ')} (`bench/{p.name}`)")
    (staged / "bench" / "index.md").write_text(
        "# Benchmarks\n\nEvery `bench/results_*.md` of the repository as committed: each says which script "
        "measured it, on which machine and when (rerun that script to measure yours).\n\n"
        + toctree("Benchmarks", [p.stem for p in benches]), encoding="utf-8")

    # the generated parts of book/'s pages
    times = study_times()
    path_rows = ["| | notebook | study time with its exercises (estimate) | you can then |", "|---|---|---:|---|"]
    for name, title in notebooks:
        time_, then = times.get(name[:2], ("—", ""))
        path_rows.append(f"| {name[:2]} | [{title}](notebooks/{name}.ipynb) | {time_} | {then} |")
    path_text = ("Start with 01 and go in order: each notebook uses what the one before it built. "
                 "[The learner's path](docs/learning-path.md) says which notebooks are the core and which a deployer "
                 "can skip. The study times are estimates (reading, running and writing the exercises at a first "
                 "try).\n\n" + "\n".join(path_rows) + "\n")
    toctrees = "\n".join([
        toctree("The course", [f"notebooks/{n}" for n, _ in notebooks]),
        toctree("Practice", ["exercises", "live"]),
        toctree("Reference", [*(f"docs/{p.stem}" for p in docs), "api"]),
        toctree("Model cards", [MODEL_CARDS.removesuffix(".md")]),
        toctree("Benchmarks", ["bench/index"]),
        toctree("Deployment guides", [*(d.removesuffix(".md") for d in DEPLOY_PAGES), "publishing"]),
    ])
    by_notebook = "\n".join(f"- [{title}](notebooks/{name}.ipynb#exercises): "
                            + ", ".join(f"`{e.name}`" for e in EXERCISES.values() if e.notebook == name)
                            for name, title in notebooks)
    timings = thread_timings()  # quoted on two pages
    fill = {"index.md": {"path": path_text, "toctrees": toctrees},
            "exercises.md": {"exercises-table": exercises_table() + "\n",
                             "exercises-by-notebook": "## Where they are\n\n" + by_notebook + "\n"},
            "live.md": {"thread-timings": timings},
            "publishing.md": {"thread-timings": timings, "serve-link": "`hpe serve` (the REST API, its page and the "
                              "in-browser switch): [Export, serve, deploy](docs/deploy.md)."}}
    for page, parts in fill.items():
        text = (staged / page).read_text(encoding="utf-8")
        for key, value in parts.items():
            text = text.replace(f"<!-- BOOK:{key} -->", value)
        (staged / page).write_text(text, encoding="utf-8")  # written with the site's own links
    (staged / "api.md").write_text(api_page(), encoding="utf-8")
    landing_picture(staged / "_static" / "landing_pose.png")


# ------------------------------------------------------------------ building

def sphinx(staged: Path, out: Path) -> None:
    """sphinx-build -b html -q: warnings are printed and tolerated, errors fail the build."""
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-d", str(staged / "_doctrees"), str(staged), str(out)]
    done = subprocess.run(cmd, cwd=staged)
    if done.returncode != 0:
        raise SystemExit(f"sphinx-build failed (exit {done.returncode}): {' '.join(cmd)}")


def live_site(out: Path, cache: Path) -> None:
    """The hpe export --format web site of the default weights under ``out``; reused from ``cache`` when built."""
    from hpe_utils import web
    from hpe_utils.files import shipped_images
    from hpe_utils.weights import load_weights

    lw = load_weights("default")
    page = hashlib.sha256("".join(web.page_files().values()).encode()).hexdigest()[:12]
    key = cache / f"live-{web.weights_key(lw)}-ort{web.ORT_WEB_VERSION}-page{page}"
    if not web.is_site(key):
        log(f"exporting the in-browser site (once; cached in {key})")
        for old in cache.glob("live-*"):
            shutil.rmtree(old, ignore_errors=True)
        web.export_web(lw, key, shipped_images()[:LIVE_IMAGES], log=lambda _m: None)
    shutil.copytree(key, out)


def size_mb(folder: Path) -> float:
    """Bytes of every file under ``folder``, in MB."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def build(out: Path, staged: Path, cache: Path) -> None:
    """Stage, run Sphinx, add the live site, stamp the inputs' digest; prints the time and the size."""
    t0 = time.perf_counter()
    digest = inputs_digest()
    log(f"staging {staged}")
    stage(staged)
    t_stage = time.perf_counter()
    mode = "executing every notebook" if os.environ.get("HPE_BOOK_EXECUTE") == "1" else "stored outputs"
    log(f"sphinx-build -b html {staged} -> {out} ({mode})")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        site = Path(tmp) / "site"
        sphinx(staged, site)
        if (site / "_sources").is_dir() and not any((site / "_sources").iterdir()):
            (site / "_sources").rmdir()  # html_copy_source is off: Sphinx leaves the folder empty
        t_sphinx = time.perf_counter()
        live_site(site / "live", cache)
        (site / STAMP).write_text(digest + "\n")
        if out.exists():
            shutil.rmtree(out)
        site.rename(out)
    t1 = time.perf_counter()
    pages = sum(1 for _ in out.rglob("*.html")) - sum(1 for _ in (out / "live").rglob("*.html"))
    log(f"built {out / 'index.html'} in {t1 - t0:.0f} s (staging {t_stage - t0:.0f} s, sphinx {t_sphinx - t_stage:.0f} s, "
        f"live site {t1 - t_sphinx:.0f} s): {pages} pages, {size_mb(out):.1f} MB "
        f"({size_mb(out / 'live'):.1f} MB of it the live site)")


def main(argv: list[str] | None = None) -> int:
    """Command line: build (default) or --check."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "build" / "book", help="the site (default build/book)")
    ap.add_argument("--src", type=Path, default=None,
                    help="the staged source tree (default build/book_src, or OUT_src beside another --out)")
    ap.add_argument("--cache", type=Path, default=REPO / "build" / "book_cache", help="where the live site is kept")
    ap.add_argument("--check", action="store_true", help="exit 0 when OUT is a build of the current inputs, else 1")
    args = ap.parse_args(argv)
    out = args.out.resolve()
    if args.check:
        fresh = is_fresh(out)
        log(f"{out}: {'fresh' if fresh else 'missing or stale'}")
        return 0 if fresh else 1
    default_out = out == (REPO / "build" / "book").resolve()
    staged = (args.src or (REPO / "build" / "book_src" if default_out else out.with_name(out.name + "_src"))).resolve()
    build(out, staged, args.cache.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
