"""Reading an import's bytes: which format it is (from its content, never a file name or a header), and the
labels of the formats that are not one JSON document (activelearning/datasets/imports.py matches them to the
project's assets and stores them).

- An archive (zip by its magic, plain tar by `ustar` at offset 257), as Loupe's exports write them: YOLO
  (`data.yaml` names + `labels/**/*.txt`), Pascal VOC (`Annotations/*.xml`), COCO (`annotations/*.json`),
  Label Studio (`tasks.json`, or any other JSON: a task list or a JSON-MIN export) or a CSV. Only the label
  members are read, never the images, within the bounds of activelearning/datasets/import_archives.py
  (members, uncompressed bytes: a zip bomb is a 413). A compressed tar is refused (send the tar as exported).
- One XML document: a VOC annotation. Parsed by defusedxml with DTDs forbidden, so no entity is expanded and
  nothing external is fetched.
- JSON: a Label Studio task list, a Label Studio JSON-MIN export (records without `data`), or a COCO file.
- Anything else is read as CSV: rows of boxes (`image` or `sha256`, `label`, `x`, `y`, `width`, `height` in
  pixels, optionally `frame_index` and `score`) or Label Studio's CSV export (JSON-MIN with its lists as JSON
  text). Loupe's own CSV export holds counts per class and no boxes: it is refused saying so.

Boxes are read in the unit their format uses (`FoundBox.unit`) and turned into pixels against the matched
asset's size. A malformed file is an ImportRejected (400 `invalid_import`) naming the file, line or record and
field.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import defusedxml.ElementTree as SafeET
import orjson
import yaml
from defusedxml import DefusedXmlException

from activelearning.datasets.import_archives import ImportArchive, reject
from annotations.errors import InvalidInput

SHA = re.compile(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])")
_FRAME = re.compile(r"_f([0-9]{1,9})(?:\.[A-Za-z0-9]{1,5})?$")  # a clip's frame: `<sha256>_f000012.jpg`
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
PIXELS, PERCENT, NORMALISED_CENTRE = "px", "percent", "normalised-centre"
_COUNTS_HEADER = ["image", "sha256", "frame_index", "split", "site", "camera"]
_BOX_COLUMNS = ("label", "x", "y", "width", "height")


def at(file: str, **where: Any) -> dict[str, Any]:
    """Where something is: the archive member (none for a plain file) and the rest."""
    return {"file": file, **where} if file else dict(where)


@dataclass
class FoundBox:
    label: str
    coords: tuple[float, float, float, float]
    unit: str  # PIXELS (x, y, w, h), PERCENT (x, y, w, h of 100) or NORMALISED_CENTRE (cx, cy, w, h of 1)
    where: dict[str, Any]  # where the box is, for a box outside its image
    label_where: dict[str, Any]  # where its label is, for a label the project lacks
    score: float | None = None

    def pixels(self, width: int, height: int) -> list[float]:
        a, b, w, h = self.coords
        if self.unit == PERCENT:
            return [a * width / 100, b * height / 100, w * width / 100, h * height / 100]
        if self.unit == NORMALISED_CENTRE:
            return [(a - w / 2) * width, (b - h / 2) * height, w * width, h * height]
        return [a, b, w, h]


@dataclass
class FoundImage:
    sha256: str
    boxes: list[FoundBox]
    where: dict[str, Any]
    frame_index: int | None = None  # for a clip: the frame the boxes are on


@dataclass
class Read:
    """What the body holds: images with their boxes, or JSON documents (COCO, Label Studio task lists) for
    imports.py's readers of those, each with the archive member it came from ("" for the body itself)."""

    format: str
    images: list[FoundImage] = field(default_factory=list)
    documents: list[tuple[str, Any]] = field(default_factory=list)


def read(body: bytes) -> Read:
    if body[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _archive(ImportArchive.of_zip(body))
    if len(body) >= 262 and body[257:262] == b"ustar":
        return _archive(ImportArchive.of_tar(body))
    if body[:2] == b"\x1f\x8b":
        reject("A compressed archive: send the zip, or the tar as exported (uncompressed).", {"file": "$"})
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"<":
        return Read("voc", images=[_voc(body, "")])
    if start in (b"[", b"{") or not _looks_like_csv(body):
        return _json(parse_json(body), "")  # anything else is answered as the JSON it is not, saying where
    return _csv(body, "")


def _looks_like_csv(body: bytes) -> bool:
    """UTF-8 text whose first line has a comma (a header)."""
    first = body[:4096].split(b"\n", 1)[0]
    try:
        first.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return b"," in first


def parse_json(body: bytes, file: str = "") -> Any:
    """The document, or a 400 that says where the JSON broke (1-based line and column)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("The body is not valid JSON.", code="malformed_json", details=at(
            file, line=exc.lineno, column=exc.colno, reason=exc.msg)) from exc


def sha_in_reference(reference: str) -> str | None:
    """The sha256 named by an image reference: a URL's path or `?d=` local-file path, or a file name."""
    parts = urlsplit(reference)
    candidates = [unquote(parts.path), *(unquote(v) for v in parse_qs(parts.query).get("d", []))]
    for candidate in candidates:
        match = SHA.search(PurePosixPath(candidate.lower()).name)
        if match:
            return match.group(1)
    return None


def frame_in(name: str) -> int | None:
    match = _FRAME.search(PurePosixPath(name).name)
    return int(match.group(1)) if match else None


def _named_sha(name: str, where: dict[str, Any], field_name: str = "file") -> str:
    sha = sha_in_reference(name)
    if sha is None:
        reject("The file name names no sha256.", where, field=field_name, name=name)
    return sha


def number(value: Any, where: dict[str, Any], *, text: bool = True) -> float:
    """A finite number: a JSON number, or (`text`: CSV, YOLO, XML) the text of one."""
    if text and isinstance(value, str) and len(value) <= 64:
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        reject("Expected a number.", where)
    return float(value)


def _text(data: bytes, where: dict[str, Any]) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reject("The file is not UTF-8 text.", where, byte=exc.start)


def _under(name: str, folder: str) -> bool:
    return folder in PurePosixPath(name).parts[:-1]


def _archive(archive: ImportArchive) -> Read:
    names = sorted(archive.names)
    yamls = [n for n in names if PurePosixPath(n).name in ("data.yaml", "data.yml")]
    if yamls:
        return _yolo(archive, min(yamls, key=len))
    if voc := [n for n in names if n.lower().endswith(".xml") and _under(n, "Annotations")]:
        return Read("voc", images=[_voc(archive.read(n), n) for n in voc])
    # COCO's `annotations/instances_<split>.json` (one id space per file), else any JSON (Label Studio's tasks.json).
    documents = [n for n in names if n.endswith(".json") and _under(n, "annotations")] or [
        n for n in names if n.endswith(".json")]
    if documents:
        reads = [_json(parse_json(archive.read(n), n), n) for n in documents]
        if len({r.format for r in reads}) > 1:
            reject("The archive mixes label formats.", {"file": "$"}, formats=sorted({r.format for r in reads}))
        return Read(reads[0].format, images=[i for r in reads for i in r.images],
                    documents=[d for r in reads for d in r.documents])
    # Loupe's CSV export holds counts.csv beside boxes.csv: the boxes are what imports (counts alone are refused).
    tables = [n for n in names if n.lower().endswith(".csv")]
    if tables := [n for n in tables if PurePosixPath(n).name != "counts.csv"] or tables:
        reads = [_csv(archive.read(n), n) for n in tables]
        return Read(reads[0].format, images=[i for r in reads for i in r.images])
    reject("The archive holds no labels Loupe reads (YOLO data.yaml, VOC Annotations/, COCO annotations/, "
           "Label Studio JSON or CSV).", {"file": "$"})


def _json(document: Any, file: str) -> Read:
    if isinstance(document, list) and any(isinstance(r, dict) for r in document) and not any(
            isinstance(r, dict) and "data" in r for r in document):  # no task has `data`: JSON-MIN records
        return Read("label-studio-min", images=json_min(document, lambda r: at(file, record=r)))
    if isinstance(document, list):
        return Read("label-studio", documents=[(file, document)])
    if isinstance(document, dict) and isinstance(document.get("images"), list):
        return Read("coco", documents=[(file, document)])
    reject("Expected a Label Studio task list (JSON or JSON-MIN) or a COCO detection file.", at(file, field="$"))


def json_min(records: list[Any], where_of: Callable[[int], dict[str, Any]]) -> list[FoundImage]:
    """Label Studio JSON-MIN: per record the task's data (`image`, Loupe's `sha256`) and per labeling control a
    list of regions; a `rectanglelabels` region is a box in percent of the image."""
    images = []
    for r, record in enumerate(records):
        where = where_of(r)
        if not isinstance(record, dict):
            reject("Expected a record object.", where)
        reference = record.get("image")
        named = str(record.get("sha256") or "").lower()
        if SHA.fullmatch(named):
            sha: str | None = named
        else:
            sha = sha_in_reference(reference) if isinstance(reference, str) else None
        if sha is None:
            reject("The record names no image with a sha256.", where, field="image")
        boxes = []
        for key, value in record.items():
            for g, region in enumerate(value if isinstance(value, list) else []):
                if isinstance(region, dict) and "rectanglelabels" in region:
                    boxes.append(_region(region, where, f"{key}[{g}]"))
        images.append(FoundImage(sha, boxes, {**where, "field": "image"},
                                 frame_in(reference) if isinstance(reference, str) else None))
    return images


def _region(region: dict[str, Any], where: dict[str, Any], path: str) -> FoundBox:
    names = region["rectanglelabels"]
    label_where = {**where, "field": f"{path}.rectanglelabels"}
    if not (isinstance(names, list) and len(names) == 1 and isinstance(names[0], str)):
        reject("Expected one label per box.", label_where)
    x, y, w, h = (number(region.get(k), {**where, "field": f"{path}.{k}"}, text=False)
                  for k in ("x", "y", "width", "height"))
    score = region.get("score")
    return FoundBox(names[0], (x, y, w, h), PERCENT, {**where, "field": path}, label_where,
                    float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None)


def _yolo(archive: ImportArchive, yaml_name: str) -> Read:
    """Ultralytics' layout: `labels/<split>/<stem>.txt` beside `images/<split>/<stem>.<ext>`; an image without
    a label file has no boxes."""
    classes = _yolo_names(archive.read(yaml_name), yaml_name)

    def key(name: str, folder: str) -> str | None:
        parts = PurePosixPath(name).parts
        if folder not in parts[:-1]:
            return None
        return str(PurePosixPath(*parts[len(parts) - parts[::-1].index(folder):]).with_suffix(""))

    labels = {k: n for n in archive.names if n.endswith(".txt") and (k := key(n, "labels"))}
    images = {k: n for n in archive.names if n.lower().endswith(_IMAGE_SUFFIXES) and (k := key(n, "images"))}
    found = [_yolo_labels(archive.read(labels[k]), labels[k], classes) for k in sorted(labels)]
    found += [FoundImage(_named_sha(images[k], {"file": images[k]}), [], {"file": images[k]}, frame_in(images[k]))
              for k in sorted(images.keys() - labels.keys())]
    return Read("yolo", images=found)


def _yolo_names(data: bytes, file: str) -> dict[int, str]:
    try:
        document = yaml.safe_load(_text(data, {"file": file}))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reject("data.yaml is not valid YAML.", {"file": file, **({"line": mark.line + 1} if mark else {})})
    names = document.get("names") if isinstance(document, dict) else None
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        reject("data.yaml names no classes.", {"file": file, "field": "names"})
    for k, v in names.items():
        if isinstance(k, bool) or not isinstance(k, int) or not isinstance(v, str):
            reject("Expected class names by id.", {"file": file, "field": f"names.{k}"})
    return names


def _yolo_labels(data: bytes, file: str, classes: dict[int, str]) -> FoundImage:
    boxes = []
    for n, line in enumerate(_text(data, {"file": file}).splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        where = {"file": file, "line": n}
        if len(parts) not in (5, 6):
            reject("Expected `class cx cy w h` (and a score) on a line.", where, field="line")
        if not (parts[0].isdigit() and len(parts[0]) <= 9 and int(parts[0]) in classes):
            reject("The class id is not one of data.yaml's names.", where, field="class", class_id=parts[0][:20])
        values = [number(p, {**where, "field": f}) for p, f in zip(parts[1:], ("cx", "cy", "w", "h", "score"),
                                                                   strict=False)]
        boxes.append(FoundBox(classes[int(parts[0])], (values[0], values[1], values[2], values[3]), NORMALISED_CENTRE,
                              {**where, "field": "box"}, {**where, "field": "class"},
                              values[4] if len(values) == 5 else None))
    return FoundImage(_named_sha(file, {"file": file}), boxes, {"file": file}, frame_in(file))


def _voc(data: bytes, file: str) -> FoundImage:
    """One Pascal VOC annotation: corners in pixels; the image by `source/sha256`, `filename` or the file's name."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        reject("The XML declares a DTD or entities; Loupe reads none.", at(file), reason=type(exc).__name__)
    except SafeET.ParseError as exc:
        line, column = exc.position
        reject("The XML is not well-formed.", at(file, line=line, column=column + 1))
    if root.tag != "annotation":
        reject("Expected a VOC <annotation>.", at(file, field=root.tag[:50]))
    references = [root.findtext("source/sha256") or "", root.findtext("filename") or "", file]
    sha = next((s for s in map(sha_in_reference, (r.strip() for r in references)) if s), None)
    if sha is None:
        reject("Neither source/sha256, filename nor the file's name names a sha256.", at(file, field="filename"))
    boxes = []
    for o, obj in enumerate(root.iter("object")):
        where = at(file, object=o)
        label = (obj.findtext("name") or "").strip()
        if not label:
            reject("An object has no name.", where, field="name")
        corners = [number((obj.findtext(f"bndbox/{k}") or "").strip(), {**where, "field": f"bndbox.{k}"})
                   for k in ("xmin", "ymin", "xmax", "ymax")]
        boxes.append(FoundBox(label, (corners[0], corners[1], corners[2] - corners[0], corners[3] - corners[1]),
                              PIXELS, {**where, "field": "bndbox"}, {**where, "field": "name"}))
    return FoundImage(sha, boxes, at(file, field="filename"), frame_in(root.findtext("filename") or file))


def _csv(data: bytes, file: str) -> Read:
    rows = csv.reader(io.StringIO(_text(data, at(file))), strict=True)
    try:
        header = [h.strip() for h in next(rows, [])]
        if not any(header):
            reject("An empty CSV.", at(file, line=1))
        if header[:len(_COUNTS_HEADER)] == _COUNTS_HEADER and header[-1] == "total":
            reject("Loupe's CSV export holds counts per class, not boxes, so it cannot be imported; import the COCO, "
                   "YOLO, VOC or Label Studio export of the same dataset version.", at(file, line=1, field="header"))
        columns = {name: i for i, name in enumerate(header)}
        if set(_BOX_COLUMNS) <= columns.keys() and ("image" in columns or "sha256" in columns):
            return Read("csv", images=_box_rows(rows, columns, file))
        records, lines = [], []
        for row in rows:
            records.append({name: _cell(value) for name, value in zip(header, row, strict=False)})
            lines.append(rows.line_num)
    except csv.Error as exc:
        reject("The CSV is malformed.", at(file, line=rows.line_num), reason=str(exc)[:200])
    if not any(isinstance(v, list) for record in records for v in record.values()) and records:
        reject("Expected CSV columns image (or sha256), label, x, y, width, height, or Label Studio's CSV export.",
               at(file, line=1, field="header"), columns=header[:20])
    return Read("label-studio-csv", images=json_min(records, lambda r: at(file, line=lines[r])))


def _cell(value: str) -> Any:
    """A Label Studio CSV cell: its lists and objects are JSON text."""
    if value[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _box_rows(rows: Any, columns: dict[str, int], file: str) -> list[FoundImage]:
    """One row per box in pixels; a row with an empty label lists an image without boxes."""
    images: dict[tuple[str, int | None], FoundImage] = {}
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        where = at(file, line=rows.line_num)

        def cell(name: str, row: list[str] = row) -> str:
            return row[columns[name]].strip() if name in columns and columns[name] < len(row) else ""

        reference = cell("sha256") or cell("image")
        sha = _named_sha(reference, where, "sha256" if cell("sha256") else "image")
        frame_text = cell("frame_index")
        frame = int(number(frame_text, {**where, "field": "frame_index"})) if frame_text else frame_in(cell("image"))
        image = images.setdefault((sha, frame), FoundImage(sha, [], {**where, "field": "image"}, frame))
        if not cell("label"):
            continue
        x, y, w, h = (number(cell(k), {**where, "field": k}) for k in _BOX_COLUMNS[1:])
        score = cell("score")
        image.boxes.append(FoundBox(cell("label"), (x, y, w, h), PIXELS, {**where, "field": "x"},
                                    {**where, "field": "label"},
                                    number(score, {**where, "field": "score"}) if score else None))
    return list(images.values())
