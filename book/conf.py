"""Sphinx configuration of the course website (``make book``; staged and built by tools/book/build.py).

Everything the site needs is on local disk at build time and served from its own folder afterwards: no CDN, no
MathJax, no widget manager from the network (tests/test_book.py fails on any request that leaves the host).
"""
from __future__ import annotations

import os

from hpe_utils import __version__
from hpe_utils.notebook import REPO_URL

project = "hpe-workbook"
author = "the hpe-workbook authors"
release = version = __version__
html_title = "Human pose estimation, by doing"

extensions = ["myst_nb", "sphinx.ext.autodoc"]
exclude_patterns = ["_build", "_extra", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header", "misc.highlighting_failure"]  # copied pages start at ## or hold unlexable code
myst_heading_anchors = 3  # #section links inside the copied pages resolve (README-style anchors)
myst_enable_extensions = ["colon_fence"]

# the notebooks as stored: their outputs are what the build shows (HPE_BOOK_EXECUTE=1 re-runs every notebook)
nb_execution_mode = "force" if os.environ.get("HPE_BOOK_EXECUTE") == "1" else "off"
nb_execution_timeout = 900
nb_execution_raise_on_error = True
os.environ.setdefault("HPE_OFFLINE", "1")  # as make notebooks: optional download cells skip, explorers draw a picture
os.environ.setdefault("HPE_NO_WIDGETS", "1")
nb_render_markdown_format = "myst"  # Markdown outputs (the notebooks' tables) as tables, not as text
nb_ipywidgets_js = {}  # no require.js and widget manager from CDNs (the stored runs hold no widget views)

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}

html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": REPO_URL,
    "use_repository_button": True,
    "use_download_button": False,  # the notebook pages carry their own download link (the .ipynb as committed)
    "show_toc_level": 2,
}
html_context = {"default_mode": "light"}  # the theme's mode switcher otherwise logs a console error on first load
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_extra_path = ["_extra"]  # the notebooks' .ipynb files, next to their pages
html_copy_source = False
html_show_sourcelink = False
