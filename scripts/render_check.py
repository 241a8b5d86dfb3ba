#!/usr/bin/env python
"""Render every page of a built site in headless Chromium, as a reader's browser would, and report what is wrong.

Usage: .venv/bin/python scripts/render_check.py [_build/html] [page.html ...]

Each page is loaded from disk (file://) twice, at desktop width (1100 px) and at phone width (390 px), over the
DevTools protocol (Debian's `chromium`; `websocket-client` speaks the protocol). A page fails when
- its console shows an error or an uncaught exception,
- an equation is not typeset (MathJax reported an error, or a math element was left as TeX),
- an image did not load,
- it asked for anything outside the site (any URL that is not file://, data:, blob: or about:),
- at 390 px the page is wider than the screen (horizontal overflow), or a table sticks out of the text column
  without a scroll box of its own.
Exit status 1 with one line per problem; 0 with a one-line summary. `find_chromium()` is None where no browser
is installed (the test suite then skips, saying so).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

LOCAL = ("file:", "data:", "blob:", "about:", "chrome-error:", "devtools:")
WIDTHS = (1100, 390)
STRICT_TABLES = ("claims.html",)  # pages whose tables must fit the phone's width with no horizontal scrolling

# run in the page once it has loaded: wait for MathJax and every image, then measure
PROBE = r"""
(async () => {
  for (const img of document.images) { img.loading = "eager"; }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  const W = window.innerWidth;
  const scrolls = el => { for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX; if (o === "auto" || o === "scroll") return true; }
    return false; };
  const tables = [...document.querySelectorAll("article table")].filter(t => {
      const r = t.getBoundingClientRect(); return r.right > W + 1 && !scrolls(t); }).length;
  return JSON.stringify({
    merror: document.querySelectorAll("mjx-merror").length,
    raw_math: [...document.querySelectorAll("div.math, span.math")].filter(e => !e.querySelector("mjx-container")).length,
    broken_images: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src")),
    images: document.images.length,
    overflow: document.documentElement.scrollWidth - W,
    width: W,
    tables_sticking_out: tables,
    table_overflow: Math.max(0, ...[...document.querySelectorAll("article table")].map(t =>
        t.scrollWidth - (t.closest(".pst-scrollable-table-container") || t.parentElement).clientWidth)),
  });
})()
"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium with one tab, driven over the DevTools protocol."""

    def __init__(self, chromium: str):
        import websocket

        self.profile = tempfile.mkdtemp(prefix="render-check-")
        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
             "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
             "--disable-extensions", "--remote-debugging-port=0", "--remote-allow-origins=*",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + 60
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError(f"{chromium} did not start (no DevTools port after 60 s)")
            time.sleep(0.1)
        port = port_file.read_text().split("\n")[0].strip()
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 60) -> None:
        self.ws.settimeout(timeout)
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return
        raise TimeoutError(method)

    def render(self, url: str, width: int) -> dict:
        """Load url at the given width; what the probe measured, plus the console errors and outside requests."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1,
                  mobile=False)  # a window this wide: the layout width is exactly `width`
        self.events = []
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        res = self.call("Runtime.evaluate", expression=PROBE, awaitPromise=True, returnByValue=True, timeout=60000)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{url}: the probe failed: {res['exceptionDetails']}")
        out = json.loads(res["result"]["value"])
        errors, outside = [], []
        for ev in self.events:
            m, p = ev["method"], ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                errors.append((d.get("exception", {}).get("description") or d.get("text", "")).split("\n")[0])
            elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                errors.append(p["entry"].get("text", ""))
            elif m == "Network.requestWillBeSent":
                u = p["request"]["url"]
                if not u.startswith(LOCAL):
                    outside.append(u)
        out["console_errors"] = errors
        out["outside_requests"] = sorted(set(outside))
        return out

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def pages_of(site: Path) -> list[str]:
    """Every page of the built site (not the theme's and Sphinx's own folders, nor the root's redirect to the
    first page)."""
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html")
                  if p.relative_to(site).parts[0] not in ("_static", "_sources", "_images")
                  and 'http-equiv="Refresh"' not in p.read_text(errors="replace")[:2000])


def problems(page: str, width: int, r: dict) -> list[str]:
    """One line per thing wrong with a rendered page."""
    out = [f"{page} @{width}px: console error: {e}" for e in r["console_errors"]]
    out += [f"{page} @{width}px: request outside the site: {u}" for u in r["outside_requests"]]
    if r["merror"] or r["raw_math"]:
        out.append(f"{page} @{width}px: {r['merror']} MathJax error(s), {r['raw_math']} equation(s) left as TeX")
    out += [f"{page} @{width}px: image did not load: {src}" for src in r["broken_images"]]
    if width < 500 and r["overflow"] > 1:
        out.append(f"{page} @{width}px: the page is {r['overflow']} px wider than the screen")
    if width < 500 and page.endswith(STRICT_TABLES) and r["table_overflow"] > 1:
        out.append(f"{page} @{width}px: a table is {r['table_overflow']} px wider than the text column "
                   "(this page's tables must fit without scrolling)")
    if width < 500 and r["tables_sticking_out"]:
        out.append(f"{page} @{width}px: {r['tables_sticking_out']} table(s) stick out of the text without a scroll box")
    return out


def check_site(site: Path, pages: list[str] | None = None, chromium: str | None = None) -> tuple[list[str], dict]:
    """Render each page at every width; returns (problems, {page: {width: measurements}})."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError("no Chromium found (install Debian's chromium)")
    site = site.resolve()
    pages = pages or pages_of(site)
    browser = Browser(chromium)
    found, seen = [], {}
    try:
        for page in pages:
            for width in WIDTHS:
                r = browser.render((site / page).as_uri(), width)
                seen.setdefault(page, {})[width] = r
                found += problems(page, width, r)
    finally:
        browser.close()
    return found, seen


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else Path("_build/html")
    found, seen = check_site(site, argv[1:] or None)
    for line in found:
        print(line)
    images = sum(r[WIDTHS[0]]["images"] for r in seen.values())
    print(f"render check: {len(seen)} pages at {', '.join(f'{w} px' for w in WIDTHS)}; {images} images; "
          f"{len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
