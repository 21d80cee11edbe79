"""The HTML pages' Jinja2 templates (the explorer's under explorer/, the verify page's under
verify/) and the one environment that renders them.

Autoescaping is on for every .html template, so whatever a value from the chain, the database or
the request holds, it reaches the page as text. The .css and .js files are included verbatim into
<style> and <script>; api/headers.py allows exactly those texts by their hashes. Pages get typed
models (api/explorer/pages.py, api/routes/pages.py), never markup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a misspelt field fails the page instead of showing nothing
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, **context: Any) -> str:
    return TEMPLATES.get_template(name).render(**context)
