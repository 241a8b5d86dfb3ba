"""Each page's script list without repeats: Jupyter Book 1 registers sphinx-thebe's inline configuration script
twice, and the second `const THEBE_JS_URL = ...` is a SyntaxError in every browser's console. A script that
appears again with the same source and body is dropped (the first stays where it was)."""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        key = (getattr(js, "filename", None) or "", attrs.get("body", "") or "")  # an inline script: None or ""
        if key in seen:
            continue
        seen.add(key)
        kept.append(js)
    scripts[:] = kept  # in place: handlers after this one (MathJax) still add to the same list


def setup(app):
    # early: html-page-context is emitted with emit_firstresult, so handlers after one that returns a template
    # name never run; the repeats are in the list before any handler runs
    app.connect("html-page-context", _dedupe, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
