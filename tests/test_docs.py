"""The README and the docs/ pages point only at files that exist: every relative link and image."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
# [text](target "title") and ![alt](target), then <img src="…"> and <a href="…">.
MARKDOWN_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)


def relative_targets(markdown: str) -> list[str]:
    """The relative targets of a page's links and images, code blocks and code spans left out."""
    text = CODE_SPAN.sub("", FENCE.sub("", markdown))
    targets = MARKDOWN_LINK.findall(text) + HTML_LINK.findall(text)
    return [t for t in targets if not EXTERNAL.match(t)]


def missing_targets(page: Path) -> list[str]:
    missing = []
    for target in relative_targets(page.read_text(encoding="utf-8")):
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not (page.parent / path).exists():
            missing.append(target)
    return missing


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_of_the_page_points_to_a_file_that_exists(page):
    assert page.exists()
    assert missing_targets(page) == []


def test_a_link_or_image_to_a_missing_file_is_found_and_code_is_not_read_as_links(tmp_path):
    (tmp_path / "there.md").write_text("x", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[here](there.md#a) [gone](gone.md) ![shot](images/none.png \"a title\")\n"
        "<img src=\"also/none.png\" alt=\"\"> [web](https://example.org/x.md) [anchor](#top)\n"
        "`[not a link](nowhere.md)`\n```md\n[nor this](nowhere.md)\n```\n",
        encoding="utf-8")
    assert missing_targets(page) == ["gone.md", "images/none.png", "also/none.png"]


def test_the_readme_stays_a_newcomers_page_that_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150
    assert lines[0].startswith("# ") and lines[2] == "```sh"
    assert lines[3].startswith("make run") and lines[4].startswith("make test") and lines[5] == "```"
