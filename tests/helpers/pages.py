"""The links of a list's pager (templates/_macros.html `newer_older_pager`), by their words."""

from __future__ import annotations

import html
import re

PAGER = re.compile(r'<nav class="pager" aria-label="([^"]+)">(.*?)</nav>', re.DOTALL)
LINK = re.compile(r'<a href="([^"]+)"[^>]*>(.*?)</a>', re.DOTALL)
TAG = re.compile(r"<[^>]+>")
ARROWS = "«»←→ "


def pager_links(body: str) -> dict[str, str]:
    """{"Newest": url, "Newer": url, "Older": url, "Oldest": url}, only the live links; {} without
    a pager."""
    match = PAGER.search(body)
    if match is None:
        return {}
    return {TAG.sub("", label).strip(ARROWS): html.unescape(url)
            for url, label in LINK.findall(match.group(2))}


def pager_label(body: str) -> str | None:
    match = PAGER.search(body)
    return match.group(1) if match else None
