"""Committed screenshots are rewritten only when the page looks different, not on every e2e run."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from tests.e2e.conftest import same_picture


def png(draw_extra: bool = False, shift_text: int = 0) -> bytes:
    image = Image.new("RGB", (400, 300), "white")
    pen = ImageDraw.Draw(image)
    pen.rectangle([20, 20, 200, 120], outline="navy", width=3)
    pen.text((30 + shift_text, 200), "Lease: 9:58", fill="black")
    if draw_extra:
        pen.rectangle([220, 140, 380, 280], fill="orange")  # a real change: a new panel
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_same_page_keeps_the_committed_file_and_a_changed_page_replaces_it(tmp_path: Path):
    committed = tmp_path / "editor.png"
    assert not same_picture(committed, png())  # nothing committed yet
    committed.write_bytes(png())
    assert same_picture(committed, png())
    assert same_picture(committed, png(shift_text=1))  # a countdown ticking is the same picture
    assert not same_picture(committed, png(draw_extra=True))
    small = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(small, format="PNG")
    assert not same_picture(committed, small.getvalue())
