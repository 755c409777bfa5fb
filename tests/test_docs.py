"""docs/: the tables and constants a page quotes are the code's, so the page and the library never drift apart."""
from pathlib import Path

from hpe_utils import auto, parity
from hpe_utils.engines import describe_engines_table

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_engines_page_holds_the_registrys_table_and_autos_constants():
    page = (DOCS / "engines.md").read_text()
    assert describe_engines_table() in page  # regenerate: python -c "from hpe_utils.engines import *; print(describe_engines_table())"
    assert f"MEASURE_MIN_IMAGES` = {auto.MEASURE_MIN_IMAGES:,}" in page
    assert f"BF16_MIN_SPEEDUP` = {auto.BF16_MIN_SPEEDUP}x" in page
    assert f"{parity.MAX_MOVED:.0%} of the joints land more than 1 heatmap pixel" in page


def test_every_bench_file_a_page_cites_exists():
    import re

    for page in DOCS.glob("*.md"):
        for cited in set(re.findall(r"`(bench/[\w.]+\.md)`", page.read_text())):
            assert (DOCS.parent / cited).exists(), (page.name, cited)
