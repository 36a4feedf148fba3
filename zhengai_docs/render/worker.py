"""Rendering text nobody has saved yet (the editor's live preview) in a limited child process.

The limits (render.limits) keep one render to about a second at worst, but a second of CPU in a
web process holds the GIL, and every other request's database and git calls then wait their turn
(measured: a 25 ms page took 130–480 ms beside one such render). The preview therefore renders
in a child forked from the fork server (`render.sandbox`, as Word conversion does): the waiting
request thread holds no GIL, the child runs on another core, and the operating system stops a
render past its time or memory. One preview per process at a time; another waits briefly and is
then told to retry, so a burst of previews cannot occupy every core.
"""

from __future__ import annotations

import threading

from zhengai_docs.render.html import ImageUrl, Rendered, as_plain_text, render_uncached, resolve_images
from zhengai_docs.render.limits import Problem
from zhengai_docs.render.sandbox import LimitExceeded, run_limited

PREVIEW_SECONDS = 5.0  # the worst body within the limits takes about one
PREVIEW_MEMORY = 512 * 1024 * 1024
PREVIEW_SLOTS = 1
_slots = threading.BoundedSemaphore(PREVIEW_SLOTS)


def render_preview(
    text: str, *, wait: float = 2.0, seconds: float = PREVIEW_SECONDS, image_url: ImageUrl | None = None
) -> Rendered | None:
    """The rendering of `text` (pictures resolved as `render_markdown` does), or None when every
    preview slot stayed busy for `wait` seconds."""
    if not _slots.acquire(timeout=wait):
        return None
    try:
        return resolve_images(run_limited(render_uncached, text, seconds=seconds, memory_bytes=PREVIEW_MEMORY), image_url=image_url)
    except LimitExceeded:
        return as_plain_text(text, Problem(f"排版超过 {seconds:g} 秒或占用内存过多，已停止。请简化正文的格式或把它拆分为几个文档。"))
    finally:
        _slots.release()
