"""The export formats: each turns a stream of `ExportImage`s into archive members as they come.

Framework-free: the service (activelearning/datasets/exports.py) reads the dataset version and hands images over in a
fixed order (split, then sha256); writers keep nothing per image in memory. What must come after the last
image (COCO's JSON per split, VOC's split lists, the Label Studio task list) is spooled to temporary files
on disk and copied into the archive at the end. JSON is written with sorted keys, so the bytes are stable.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree as ET  # noqa: S405 (we write XML, never parse untrusted XML here)
from xml.sax.saxutils import quoteattr  # noqa: S406

import orjson

from activelearning.datasets.archives import ArchiveWriter

SPLITS = ("train", "val", "test")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


@dataclass
class ExportImage:
    """One image of the export: a still, or one annotated frame of a clip."""

    name: str  # file name inside the archive, unique in the export: "<sha256>.jpg" or "<sha256>_f000012.jpg"
    sha256: str
    split: str
    width: int
    height: int
    boxes: list[dict[str, Any]]
    site: str
    camera: str
    frame_index: int | None
    open_image: Callable[[], tuple[IO[bytes], int]] | None  # the stored file and its size; None: no images
    annotation_id: int = 0
    predictions: list[dict[str, Any]] = field(default_factory=list)  # {"source", "model", "detections"}


class Labels:
    """Class ids in the project's label order; a label the project no longer lists is appended after."""

    def __init__(self, project_labels: list[str]) -> None:
        self.names = list(project_labels)
        self._index = {name: i for i, name in enumerate(self.names)}

    def index(self, label: str) -> int:
        if label not in self._index:
            self._index[label] = len(self.names)
            self.names.append(label)
        return self._index[label]


class Spools:
    """Named temporary files on disk, created on first use, closed together."""

    def __init__(self, spool_dir: Path | None) -> None:
        self._dir = spool_dir
        self._files: dict[str, IO[bytes]] = {}

    def get(self, key: str) -> IO[bytes]:
        if key not in self._files:
            self._files[key] = tempfile.TemporaryFile(dir=self._dir)  # noqa: SIM115 (closed by close())
        return self._files[key]

    def has(self, key: str) -> bool:
        return key in self._files

    def copy_into(self, out: IO[bytes], key: str) -> None:
        if key in self._files:
            spool = self._files[key]
            spool.seek(0)
            while chunk := spool.read(1024 * 1024):
                out.write(chunk)

    def close(self) -> None:
        for spool in self._files.values():
            spool.close()


class FormatWriter:
    """Base: `add(image)` per image in order, then `finish()`."""

    def __init__(self, archive: ArchiveWriter, *, labels: list[str], spool_dir: Path | None = None,
                 dataset_name: str = "dataset", image_root: str = "") -> None:
        self.archive = archive
        self.image_root = image_root.rstrip("/")
        self.labels = Labels(labels)
        self.spools = Spools(spool_dir)
        self.dataset_name = dataset_name

    def add(self, image: ExportImage) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        self.spools.close()

    def copy_image(self, member: str, image: ExportImage) -> None:
        if image.open_image is None:
            return
        handle, size = image.open_image()
        with handle:
            self.archive.add_file(member, handle, size)


class CocoWriter(FormatWriter):
    """`annotations/instances_{split}.json` (COCO detection) and `images/{split}/…`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._image_ids = dict.fromkeys(SPLITS, 0)
        self._box_ids = dict.fromkeys(SPLITS, 0)

    def add(self, image: ExportImage) -> None:
        split = image.split
        self.copy_image(f"images/{split}/{image.name}", image)
        self._image_ids[split] += 1
        image_id = self._image_ids[split]
        images = self.spools.get(f"images:{split}")
        images.write(b"," if image_id > 1 else b"")
        images.write(dumps({"id": image_id, "file_name": image.name, "width": image.width, "height": image.height,
                            "sha256": image.sha256, "site": image.site, "camera": image.camera,
                            "frame_index": image.frame_index}))
        if not image.boxes:
            return
        first = self._box_ids[split] + 1
        objects = [{"id": first + i, "image_id": image_id, "category_id": self.labels.index(box["label"]) + 1,
                    "bbox": box["box"], "area": box["box"][2] * box["box"][3], "iscrowd": 0,
                    "track_id": box.get("track_id")} for i, box in enumerate(image.boxes)]
        self._box_ids[split] += len(objects)
        boxes = self.spools.get(f"annotations:{split}")
        boxes.write(b"," if first > 1 else b"")
        boxes.write(dumps(objects)[1:-1])  # one encoder call per image; the list's brackets come from finish()

    def finish(self) -> None:
        categories = dumps([{"id": i + 1, "name": name, "supercategory": "object"}
                            for i, name in enumerate(self.labels.names)])
        info = dumps({"description": self.dataset_name, "version": "1.0"})
        for split in SPLITS:
            # Top-level keys in sorted order, like every other object in the file.
            with self.archive.open_member(f"annotations/instances_{split}.json") as out:
                out.write(b'{"annotations":[')
                self.spools.copy_into(out, f"annotations:{split}")
                out.write(b'],"categories":' + categories + b',"images":[')
                self.spools.copy_into(out, f"images:{split}")
                out.write(b'],"info":' + info + b',"licenses":[]}\n')
        super().finish()


_YOLO_LINE = "%d %.6f %.6f %.6f %.6f\n"


def yolo_lines(boxes: list[dict[str, Any]], labels: Labels, width: int, height: int) -> str:
    """`class cx cy w h` per box, normalised to the image and clipped to it. Plain comparisons and
    %-formatting in one comprehension rather than min/max calls, NumPy or `str.format`: per image there are only
    a handful of boxes, where each of those costs more than the arithmetic (this is the YOLO export's inner
    loop: a million boxes)."""
    lines = []
    for box in boxes:
        x0, y0, w, h = box["box"]
        x1, y1 = x0 + w, y0 + h
        x0 = 0.0 if x0 < 0 else (width if x0 > width else x0)
        y0 = 0.0 if y0 < 0 else (height if y0 > height else y0)
        x1 = 0.0 if x1 < 0 else (width if x1 > width else x1)
        y1 = 0.0 if y1 < 0 else (height if y1 > height else y1)
        lines.append(_YOLO_LINE % (labels.index(box["label"]), (x0 + x1) / 2 / width, (y0 + y1) / 2 / height,
                                   (x1 - x0) / width, (y1 - y0) / height))
    return "".join(lines)


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


class YoloWriter(FormatWriter):
    """`images/{split}/…`, `labels/{split}/<stem>.txt` (class cx cy w h, normalised), `data.yaml`."""

    def add(self, image: ExportImage) -> None:
        self.copy_image(f"images/{image.split}/{image.name}", image)
        lines = yolo_lines(image.boxes, self.labels, image.width, image.height)
        self.archive.add_bytes(f"labels/{image.split}/{_stem(image.name)}.txt", lines.encode())

    def finish(self) -> None:
        # JSON strings are valid YAML scalars: the names are quoted whatever characters they hold.
        names = "".join(f"  {i}: {orjson.dumps(name).decode()}\n" for i, name in enumerate(self.labels.names))
        # No `path:` key: Ultralytics resolves `path: .` against the working directory, and a missing one against
        # the yaml's own folder, so training works from wherever the archive was unpacked.
        data = ("train: images/train\nval: images/val\ntest: images/test\n"
                f"nc: {len(self.labels.names)}\nnames:\n{names}")
        self.archive.add_bytes("data.yaml", data.encode())
        super().finish()


class VocWriter(FormatWriter):
    """Pascal VOC: `Annotations/<stem>.xml`, `JPEGImages/…`, `ImageSets/Main/{split}.txt`."""

    def add(self, image: ExportImage) -> None:
        stem = _stem(image.name)
        self.copy_image(f"JPEGImages/{image.name}", image)
        root = ET.Element("annotation")
        ET.SubElement(root, "folder").text = "JPEGImages"
        ET.SubElement(root, "filename").text = image.name
        source = ET.SubElement(root, "source")
        ET.SubElement(source, "database").text = self.dataset_name
        ET.SubElement(source, "sha256").text = image.sha256
        size = ET.SubElement(root, "size")
        for tag, value in (("width", image.width), ("height", image.height), ("depth", 3)):
            ET.SubElement(size, tag).text = str(value)
        ET.SubElement(root, "segmented").text = "0"
        for box in image.boxes:
            self.labels.index(box["label"])
            x, y, w, h = box["box"]
            obj = ET.SubElement(root, "object")
            ET.SubElement(obj, "name").text = box["label"]
            ET.SubElement(obj, "pose").text = "Unspecified"
            ET.SubElement(obj, "truncated").text = "0"
            ET.SubElement(obj, "difficult").text = "0"
            bndbox = ET.SubElement(obj, "bndbox")
            corners = (max(0, round(x)), max(0, round(y)), min(image.width, round(x + w)),
                       min(image.height, round(y + h)))
            for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
                ET.SubElement(bndbox, tag).text = str(value)
        ET.indent(root)
        self.archive.add_bytes(f"Annotations/{stem}.xml", ET.tostring(root, encoding="utf-8", xml_declaration=True))
        self.spools.get(f"split:{image.split}").write(f"{stem}\n".encode())

    def finish(self) -> None:
        for split in SPLITS:
            with self.archive.open_member(f"ImageSets/Main/{split}.txt") as out:
                self.spools.copy_into(out, f"split:{split}")
        self.archive.add_bytes("labels.txt", "".join(f"{name}\n" for name in self.labels.names).encode())
        super().finish()


def label_config(labels: list[str]) -> str:
    """A Label Studio labeling config for boxes of these classes on an image."""
    options = "".join(f"    <Label value={quoteattr(name)}/>\n" for name in labels)
    return ('<View>\n  <Image name="image" value="$image"/>\n'
            f'  <RectangleLabels name="label" toName="image">\n{options}  </RectangleLabels>\n</View>\n')


def ls_result(boxes: list[dict[str, Any]], width: int, height: int, *, prefix: str) -> list[dict[str, Any]]:
    """Boxes in pixels as Label Studio `rectanglelabels` results (percent of the image)."""
    results = []
    for i, box in enumerate(boxes):
        x, y, w, h = box["box"]
        value: dict[str, Any] = {"x": 100 * x / width, "y": 100 * y / height, "width": 100 * w / width,
                                 "height": 100 * h / height, "rotation": 0, "rectanglelabels": [box["label"]]}
        result = {"id": f"{prefix}{i}", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
                  "original_width": width, "original_height": height, "image_rotation": 0, "value": value}
        if "score" in box:
            result["score"] = box["score"]
        results.append(result)
    return results


class LabelStudioWriter(FormatWriter):
    """`tasks.json` (a Label Studio task list: the accepted boxes as an annotation, model boxes as
    predictions), `label_config.xml`, `images/…`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tasks = 0

    def add(self, image: ExportImage) -> None:
        self.copy_image(f"images/{image.name}", image)
        for box in image.boxes:
            self.labels.index(box["label"])
        self._tasks += 1
        task = {
            "id": self._tasks,
            "data": {"image": f"{self.image_root or 'images'}/{image.name}", "sha256": image.sha256},
            "meta": {"split": image.split, "site": image.site, "camera": image.camera,
                     "frame_index": image.frame_index},
            "annotations": [{"id": image.annotation_id, "result": ls_result(image.boxes, image.width, image.height,
                                                                           prefix=f"a{image.annotation_id}-"),
                             "ground_truth": True, "was_cancelled": False}],
            "predictions": [{"model_version": p["model"], "result": ls_result(p["detections"], image.width,
                                                                             image.height, prefix=f"p{n}-"),
                             "score": mean_score(p["detections"])}
                            for n, p in enumerate(image.predictions)],
        }
        tasks = self.spools.get("tasks")
        tasks.write(b",\n" if self._tasks > 1 else b"[\n")
        tasks.write(dumps(task))

    def finish(self) -> None:
        with self.archive.open_member("tasks.json") as out:
            if self.spools.has("tasks"):
                self.spools.copy_into(out, "tasks")
                out.write(b"\n]\n")
            else:
                out.write(b"[]\n")
        self.archive.add_bytes("label_config.xml", label_config(self.labels.names).encode())
        super().finish()


def mean_score(detections: list[dict[str, Any]]) -> float | None:
    """The mean of the detections' scores (a Label Studio prediction's `score`); None when none has one."""
    scores = [d["score"] for d in detections if isinstance(d.get("score"), int | float)]
    return sum(scores) / len(scores) if scores else None


class CsvWriter(FormatWriter):
    """`counts.csv`: one row per image with its count per class (the project's classes) and in total; and
    `boxes.csv`: one row per box in pixels (an image without boxes: one row with an empty label), which
    re-imports into Loupe with the same boxes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._classes = list(self.labels.names)
        self._write("rows", ["image", "sha256", "frame_index", "split", "site", "camera", *self._classes, "total"])
        self._write("boxes", ["image", "sha256", "frame_index", "split", "label", "x", "y", "width", "height"])

    def _write(self, spool: str, row: list[Any]) -> None:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerow(row)
        self.spools.get(spool).write(text.getvalue().encode())

    def add(self, image: ExportImage) -> None:
        counts = dict.fromkeys(self._classes, 0)
        for box in image.boxes:
            if box["label"] in counts:
                counts[box["label"]] += 1
        frame = "" if image.frame_index is None else image.frame_index
        self._write("rows", [image.name, image.sha256, frame, image.split, image.site, image.camera,
                             *counts.values(), len(image.boxes)])
        if not image.boxes:  # listed all the same, with an empty label: an image with nothing on it
            self._write("boxes", [image.name, image.sha256, frame, image.split, "", "", "", "", ""])
        for box in image.boxes:
            self._write("boxes", [image.name, image.sha256, frame, image.split, box["label"], *box["box"]])

    def finish(self) -> None:
        with self.archive.open_member("counts.csv") as out:
            self.spools.copy_into(out, "rows")
        with self.archive.open_member("boxes.csv") as out:
            self.spools.copy_into(out, "boxes")
        super().finish()


WRITERS: dict[str, type[FormatWriter]] = {
    "coco": CocoWriter, "yolo": YoloWriter, "voc": VocWriter, "label-studio": LabelStudioWriter, "csv": CsvWriter,
}
