"""README.md is a short front door; the reference lives in docs/*.md, and every link between them leads somewhere."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = REPO / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")  # [text](target), ![alt](src)


def _prose(text: str) -> str:
    """The Markdown without its fenced code blocks and inline code, where a `[x](y)` is not a link."""
    return re.sub(r"`[^`\n]*`", "", _FENCE.sub("", text))


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped (not - or _), spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a Markdown file, GitHub's way (a repeated slug gets -1, -2, ...)."""
    seen: dict[str, int] = {}
    out = set()
    for line in _FENCE.sub("", page.read_text()).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = github_slug(match.group(1))
        out.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return out


def relative_links(page: Path) -> list[str]:
    return [t for t in _LINK.findall(_prose(page.read_text())) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_the_slug_rule_matches_githubs_anchors():
    assert github_slug("Speed: detector and poses") == "speed-detector-and-poses"
    assert github_slug("Inference engines and `backend=\"auto\"`") == "inference-engines-and-backendauto"
    assert github_slug("Person detector: CenterNet (`weights/person_detector_centernet.onnx`)") == (
        "person-detector-centernet-weightsperson_detector_centernetonnx")


def test_the_readme_is_a_front_door_of_at_most_200_lines():
    assert len(README.read_text().splitlines()) <= 200


def test_every_relative_link_of_the_readme_and_the_docs_leads_to_a_file_and_its_heading():
    broken, checked = [], 0
    for page in PAGES:
        for link in relative_links(page):
            checked += 1
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if not target.exists():
                broken.append(f"{page.relative_to(REPO)}: {link} (no such file)")
            elif anchor and target.suffix == ".md" and anchor not in anchors(target):
                broken.append(f"{page.relative_to(REPO)}: {link} (no heading #{anchor} in {target.name})")
    assert not broken, "\n".join(broken)
    assert checked >= 30  # the parser does find the links (the README alone has more than 15)


def test_the_readme_links_the_book_and_every_reference_page():
    linked = {(REPO / link.partition("#")[0]).resolve() for link in relative_links(README)}
    missing = [page.name for page in DOCS.glob("*.md") if page.resolve() not in linked]
    assert not missing, f"README.md does not link {missing}"
    text = README.read_text()
    assert "`make book`" in text and "`build/book/`" in text and "docs/book.md" in text


def test_the_readme_shows_one_small_picture_made_by_the_library():
    pictures = [t for t in _LINK.findall(_prose(README.read_text())) if t.endswith((".jpg", ".png", ".webp", ".gif"))]
    assert pictures == ["docs/img/messi_pose.jpg"]
    picture = REPO / pictures[0]
    assert picture.read_bytes()[:3] == b"\xff\xd8\xff" and picture.stat().st_size < 150_000


def test_the_readme_course_map_lists_every_notebook_in_order_with_its_colab_badge():
    from hpe_utils.notebook import colab_url

    text = README.read_text()
    names = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    rows = [line for line in text.splitlines() if re.match(r"\| \d\d \| `", line)]
    assert [re.match(r"\| (\d\d) \| `(\w+)`", row).group(2) for row in rows] == names  # type: ignore[union-attr]
    for name, row in zip(names, rows):
        assert colab_url(name) in row, name


def test_the_usage_page_names_every_public_name_of_the_package():
    import hpe_utils

    page = (DOCS / "usage.md").read_text()
    table = page.split("| for | names |", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"`(\w+)`", table))
    assert set(hpe_utils.__all__) - {"__version__"} <= named, sorted(set(hpe_utils.__all__) - named)


def test_the_weights_page_holds_the_registrys_table():
    from hpe_utils.weights import describe_weights_table

    assert describe_weights_table() in (DOCS / "weights.md").read_text()  # regenerate: hpe weights list
