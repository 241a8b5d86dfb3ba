"""The render check (scripts/render_check.py) finds each fault it looks for, in a real headless Chromium; the
smoke site itself is rendered in tests/test_book.py."""

import runpy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
render = runpy.run_path(str(REPO / "scripts" / "render_check.py"))

pytestmark = pytest.mark.integration

GOOD = "<html><head><meta name='viewport' content='width=device-width'></head><body><article>{}</article></body></html>"


@pytest.fixture(scope="module")
def chromium():
    path = render["find_chromium"]()
    if path is None:
        pytest.skip("no Chromium on this machine (scripts/setup.sh installs Debian's chromium where it can)")
    return path


def test_a_clean_page_passes_and_each_fault_is_reported(tmp_path, chromium):
    pages = {
        "clean.html": GOOD.format("<p>text</p><table><tr><td>1</td></tr></table>"),
        "console.html": GOOD.format("<script>console.error('boom')</script>"),
        "thrown.html": GOOD.format("<script>null.x</script>"),
        "outside.html": GOOD.format("<img src='http://203.0.113.1/x.png'>"),
        "broken.html": GOOD.format("<img src='missing.png'>"),
        "tex.html": GOOD.format("<div class='math notranslate nohighlight'>\\[x^2\\]</div>"),
        "wide.html": GOOD.format("<div style='width:900px'>wide</div>"),
        "claims.html": GOOD.format("<div style='overflow-x:auto'><table><tr><td style='white-space:nowrap'>"
                                   + "verdict " * 80 + "</td></tr></table></div>"),
    }
    for name, html in pages.items():
        (tmp_path / name).write_text(html)
    found, seen = render["check_site"](tmp_path, sorted(pages), chromium)
    by_page = {name: [f for f in found if f.startswith(name + " ")] for name in pages}
    assert by_page["clean.html"] == []
    assert any("console error: boom" in f for f in by_page["console.html"])
    assert any("console error: TypeError" in f for f in by_page["thrown.html"])
    assert any("request outside the site: http://203.0.113.1/x.png" in f for f in by_page["outside.html"])
    assert any("image did not load: missing.png" in f for f in by_page["broken.html"])
    assert any("1 equation(s) left as TeX" in f for f in by_page["tex.html"])
    assert any("@390px: the page is" in f and "wider than the screen" in f for f in by_page["wide.html"])
    assert not any("@1100px: the page is" in f for f in by_page["wide.html"])  # 900 px fits a desktop
    assert any("@390px: a table is" in f for f in by_page["claims.html"])
    assert seen["clean.html"][390]["overflow"] <= 1
