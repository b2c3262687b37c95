"""The training log as a person reads it: no server filesystem paths, library warnings collapsed into one line.

The run keeps the raw log (`TrainingRun.log`) for admins; every other view — the runs list, the live push —
shows `clean_log` of it. Pure text in, text out: no Django import, so it is tested alone.

- Paths: the run's scratch folder (`…/loupe-train-<run>-<random>/`) becomes `<run>/`, a Python package path
  (`…/site-packages/torch/…`) becomes `<python>/torch/…`, the app's own folder becomes a relative path, and
  any other absolute path is cut to `…/<last part>`.
- Warnings: Python's `file.py:12: SomethingWarning: text` lines and the source line printed under them, and
  `warnings.warn(` echoes, are dropped; one line says how many were hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

RUN_DIR = re.compile(r"(?:/[\w.+-]+)*/loupe-train-\d+-[\w]+/")
PACKAGE = re.compile(r"(?:/[\w.+-]+)*/(?:site|dist)-packages/")
ABSOLUTE = re.compile(r"(?<![\w.:<>/-])/(?:[\w.+-]+/)+([\w.+-]+)")
WARNING = re.compile(r"^\S*:\d+: \w*Warning: ")
WARN_ECHO = re.compile(r"^\s+warnings\.warn\(")


def clean_line(line: str, *, app_dir: str = "") -> str:
    """One line with server paths replaced by placeholders or relative paths."""
    line = RUN_DIR.sub("<run>/", line)
    line = PACKAGE.sub("<python>/", line)
    if app_dir:
        line = line.replace(app_dir.rstrip("/") + "/", "")
    return ABSOLUTE.sub(lambda m: f"…/{m.group(1)}", line)


def clean_log(lines: Iterable[str], *, app_dir: str = "") -> list[str]:
    """The lines a person sees: paths cleaned, library warnings (and the source line under each) collapsed."""
    out: list[str] = []
    hidden, after_warning = 0, False
    for raw in lines:
        line = raw.rstrip("\n")
        if WARNING.match(line):
            hidden, after_warning = hidden + 1, True
            continue
        if after_warning and line.startswith((" ", "\t")) or WARN_ECHO.match(line):
            after_warning = False  # the source line Python prints under a warning
            continue
        after_warning = False
        out.append(clean_line(line, app_dir=app_dir))
    if hidden:
        out.append(f"({hidden} library warning{'s' if hidden != 1 else ''} hidden)")
    return out
