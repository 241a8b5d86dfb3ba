"""Offline check of every internal link of the built site: href/src targets exist, and #anchors exist in
the target page. External links (http, https, mailto) are listed, not fetched.

    python scripts/linkcheck.py [_build/html]

Exits 1 with the list of broken links, 0 otherwise.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and a.get("rel") in ("preconnect", "dns-prefetch")):
                self.links.append(a[key])


def parse(path: Path) -> _Collect:
    c = _Collect()
    c.feed(path.read_text(encoding="utf-8", errors="replace"))
    return c


def check(site: Path) -> tuple[list[str], int, int]:
    # _static and _sources hold theme templates and page sources, not pages of the site
    pages = {p.resolve(): parse(p) for p in site.rglob("*.html")
             if not p.relative_to(site).parts[0] in ("_static", "_sources")}
    broken, n_internal, n_external = [], 0, 0
    for page, info in pages.items():
        for link in info.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https", "mailto", "data", "javascript") or link.startswith("//"):
                n_external += 1
                continue
            n_internal += 1
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(site.resolve())}: {link} (missing file)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(site.resolve())}: {link} (missing anchor)")
    return broken, n_internal, n_external


def main(argv: list[str]) -> int:
    site = Path(argv[1] if len(argv) > 1 else "_build/html")
    if not (site / "index.html").exists():
        print(f"linkcheck: no built site at {site} (index.html missing)", file=sys.stderr)
        return 1
    broken, n_int, n_ext = check(site)
    for b in broken:
        print(f"BROKEN {b}")
    print(f"linkcheck: {n_int} internal links checked, {len(broken)} broken; {n_ext} external links not fetched")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
