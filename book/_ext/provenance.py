"""Where the site came from, on every page.

- The footer of every page names the commit and the date the site was built from and links to an archive of
  that commit's source tree (`git archive` of the commit, the committed result bundles included), written to
  the site's root as headcount-source-<commit>.tar.gz, so a reader of a static copy can get the code that made
  every number. A tree with uncommitted changes is said to have them (the archive holds the commit).
- The repository is a configuration value, `headcount_repository_url` (in _config.yml, or the environment
  variable HEADCOUNT_REPOSITORY_URL), empty by default. Where it is set, every page gets the theme's
  repository button and Jupyter Book's launch buttons (Binder, Colab) for the executed notebooks under
  book/nb/ of `headcount_repository_branch`; where it is empty, no such button shows.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

LAUNCH = {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com",
          "notebook_interface": "classic"}


def repository_options(url: str, branch: str) -> dict:
    """The theme options for a repository URL: its button and the launch buttons, or all of them off when the
    URL is empty."""
    url = (url or "").strip()
    if not url:
        return {"repository_url": "", "use_repository_button": False, "launch_buttons": {}}
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"headcount_repository_url: {url!r} is not an http(s) URL; give the repository's web "
                         "address (e.g. https://github.com/<owner>/<name>) or leave it empty")
    return {"repository_url": url.rstrip("/"), "repository_branch": branch or "main", "path_to_docs": "book",
            "use_repository_button": True, "launch_buttons": dict(LAUNCH)}


def source_info(root: Path) -> dict:
    """commit (None outside a git checkout), whether the tracked tree has uncommitted changes, the archive's
    file name, and the build date (UTC)."""
    import time

    def git(*args):
        try:
            r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None
    return {"commit": commit, "uncommitted_changes": dirty, "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "archive": f"headcount-source-{commit[:12]}.tar.gz" if commit else None}


def write_archive(root: Path, commit: str, dest: Path) -> Path:
    """`git archive` of `commit` as a gzipped tar under a folder headcount-<commit12>/, written atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    subprocess.run(["git", "-C", str(root), "archive", "--format=tar.gz", f"--prefix=headcount-{commit[:12]}/",
                    "-o", str(tmp), commit], check=True, timeout=300)
    os.replace(tmp, dest)
    return dest


def footer_html(info: dict, href: str | None) -> str:
    if not info["commit"]:
        return "Built on {date} outside a git checkout: no source archive.".format(**info)
    dirty = (" (the working tree had uncommitted changes; the archive holds the commit)"
             if info["uncommitted_changes"] else "")
    return (f'Built on {info["date"]} from commit <code>{info["commit"][:12]}</code>{dirty}. '
            f'<a href="{href}">Download the exact source of this build</a> (code, notebooks and the committed '
            "results; <code>git archive</code> of the commit).")


def _repo() -> Path:
    """The checkout of the library that builds the book (the pages were executed by it)."""
    from headcount.paths import REPO

    return REPO


def _config_inited(app, config):
    url = os.environ.get("HEADCOUNT_REPOSITORY_URL", config.headcount_repository_url)
    opts = dict(config.html_theme_options or {})
    opts.update(repository_options(url, config.headcount_repository_branch))
    config.html_theme_options = opts
    app.headcount_source = source_info(_repo())


def _page_context(app, pagename, templatename, context, doctree):
    info = app.headcount_source
    href = context["pathto"](info["archive"], 1) if info["archive"] else None
    context["theme_extra_footer"] = footer_html(info, href)


def _build_finished(app, exception):
    info = app.headcount_source
    if exception is None and info["commit"] and app.builder.format == "html":
        write_archive(_repo(), info["commit"], Path(app.outdir) / info["archive"])


def setup(app):
    app.add_config_value("headcount_repository_url", "", "html")
    app.add_config_value("headcount_repository_branch", "main", "html")
    app.connect("config-inited", _config_inited)
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
