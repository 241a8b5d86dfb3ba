"""Figures (and tables) numbered per chapter: "Fig. 2.3" is the third figure of the book's second chapter.

Sphinx numbers figures per chapter only when sections are numbered, and Jupyter Book restarts section numbers
in every part of the table of contents; this book numbers its chapters across parts without printing section
numbers. After Sphinx has numbered everything (one global count per kind), each number becomes
(chapter, position in the chapter), where the chapters are the root's toctree entries in order (across parts)
and a chapter holds its own page and every page below it. References ({numref}) use the same numbers.
"""

from __future__ import annotations


def chapters(env) -> list[list[str]]:
    """The book's chapters in order, each as its pages in reading order (the chapter's page first)."""
    includes = env.toctree_includes

    def walk(doc, seen):
        out = [doc]
        for child in includes.get(doc, []):
            if child not in seen:
                seen.add(child)
                out += walk(child, seen)
        return out

    seen = {env.config.root_doc}
    return [walk(top, seen | {top}) for top in includes.get(env.config.root_doc, [])]


def renumber(fignumbers: dict, book: list[list[str]]) -> dict:
    """{doc: {kind: {id: (n,)}}} with global numbers -> the same with (chapter, k) numbers, k counting per
    chapter and kind in the global order. Pages outside every chapter keep their numbers."""
    out = {doc: {kind: dict(ids) for kind, ids in kinds.items()} for doc, kinds in fignumbers.items()}
    for c, pages in enumerate(book, start=1):
        counts: dict[str, int] = {}
        for doc in pages:
            for kind, ids in fignumbers.get(doc, {}).items():
                for fid, _ in sorted(ids.items(), key=lambda kv: kv[1]):
                    counts[kind] = counts.get(kind, 0) + 1
                    out[doc][kind][fid] = (c, counts[kind])
    return out


def _renumber(app, env):
    if app.config.numfig:
        env.toc_fignumbers = renumber(env.toc_fignumbers, chapters(env))
    return []


def setup(app):
    # after Sphinx's own numbering (TocTreeCollector, default priority 500)
    app.connect("env-get-updated", _renumber, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
