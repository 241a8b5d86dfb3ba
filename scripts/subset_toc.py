"""Write a copy of the book's table of contents that keeps only some of its notebook pages, to build part
of the book (e.g. after re-running one page) without executing the others:

    python scripts/subset_toc.py nb/claims nb/synthetic_heads -o /tmp/toc.yml
    jupyter-book build book --config _config.yml --path-output . --toc /tmp/toc.yml

Pages written by hand are kept, except a chapter's landing page whose pages are all left out;
`--existing` keeps every notebook page whose executed notebook is in book/nb.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def subset(toc: dict, keep) -> dict:
    """The toc with every `nb/...` entry not accepted by keep(file) removed, and with it a chapter page
    whose sections are all removed and a part left empty."""

    def walk(node):
        if isinstance(node, list):
            out = [walk(v) for v in node]
            return [v for v in out if v is not None]
        if isinstance(node, dict):
            f = node.get("file")
            if isinstance(f, str) and f.startswith("nb/") and not keep(f):
                return None
            out = {k: walk(v) for k, v in node.items()}
            if node.get("sections") and not out["sections"]:
                return None  # a landing page of pages that are all dropped
            for k in ("chapters", "parts"):
                if k in out and not out[k]:
                    del out[k]
            if "caption" in out and not any(k in out for k in ("chapters", "file")):
                return None  # a part with nothing left in it
            return out
        return node

    return walk(toc)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pages", nargs="*", help="notebook entries to keep, e.g. nb/claims")
    ap.add_argument("--existing", action="store_true", help="keep every page executed into book/nb")
    ap.add_argument("--toc", default=str(REPO / "book" / "_toc.yml"))
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args(argv)
    wanted = {p.removesuffix(".ipynb") for p in args.pages}
    done = {f"nb/{p.stem}" for p in (REPO / "book" / "nb").glob("*.ipynb")} if args.existing else set()
    toc = subset(yaml.safe_load(Path(args.toc).read_text()), lambda f: f in wanted or f in done)
    Path(args.out).write_text(yaml.safe_dump(toc, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
