"""Synthetic stores and buses for demos and tests: drawn scenes and clips with people and their ground truth.

Pure (numpy + OpenCV, no Django) and deterministic: the same seed gives the same pixels, boxes and
detections. It is not photorealistic; it gives the review loop something honest to look at: people of
varied size and clothing in perspective, light from bright to night, crowds from empty to packed, and
walkers who cross a counting line in short clips whose true count is known.

Why this file is long: one world (people, places, light, camera faults, clips) whose parts share the same
random draws per seed; split up, a seed's scene would depend on the order modules call the generator.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

SceneKind = Literal["store", "bus"]
Seed = int | np.random.Generator
Box = tuple[float, float, float, float]  # x, y, w, h in pixels
Point = tuple[float, float]
Colour = tuple[int, int, int]  # BGR

LIGHTING_GAIN = {"bright": 1.3, "normal": 1.0, "dim": 0.55, "night": 0.27}
LIGHTINGS = tuple(LIGHTING_GAIN)
_LIGHTING_NOISE = {"bright": 2.0, "normal": 3.0, "dim": 6.0, "night": 12.0}
_LIGHTING_ODDS = {"store": (0.3, 0.4, 0.2, 0.1), "bus": (0.25, 0.35, 0.2, 0.2)}
MAX_CROWD = 25
_SKIN: tuple[Colour, ...] = ((189, 224, 255), (140, 180, 225), (105, 150, 200), (70, 105, 150), (45, 70, 105))
_HAIR: tuple[Colour, ...] = ((20, 20, 25), (30, 45, 70), (40, 80, 120), (150, 150, 150), (60, 110, 170))


def rng_from(seed: Seed) -> np.random.Generator:
    """The generator a seed stands for (a Generator is used as is, so callers can share one draw stream)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


# --- What the generator returns ------------------------------------------------------------------


@dataclass(frozen=True)
class GroundTruth:
    """One person as a labeller would box them: the visible part of the figure, inside the image."""

    box: Box
    track_id: int
    label: str = "person"

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "box": list(self.box), "track_id": self.track_id}


@dataclass(frozen=True)
class SceneMeta:
    kind: SceneKind
    lighting: str  # one of LIGHTINGS
    crowd: int  # people placed in the scene (a few may be cut off or hidden)
    width: int
    height: int


@dataclass(frozen=True)
class CountLine:
    """A directed counting line; a walker who goes from its negative to its positive side is counted in."""

    start: Point
    end: Point

    def side(self, point: Point) -> float:
        (x0, y0), (x1, y1) = self.start, self.end
        return (x1 - x0) * (point[1] - y0) - (y1 - y0) * (point[0] - x0)

    def crossing(self, before: Point, after: Point) -> int:
        """+1 if the step before→after crosses the segment inwards, -1 outwards, 0 if it does not cross."""
        s0, s1 = self.side(before), self.side(after)
        if (s0 < 0) == (s1 < 0):
            return 0
        t = s0 / (s0 - s1)  # where along the step the line is met
        px, py = before[0] + t * (after[0] - before[0]), before[1] + t * (after[1] - before[1])
        (x0, y0), (x1, y1) = self.start, self.end
        along = ((px - x0) * (x1 - x0) + (py - y0) * (y1 - y0)) / ((x1 - x0) ** 2 + (y1 - y0) ** 2)
        if not 0.0 <= along <= 1.0:
            return 0
        return 1 if s1 >= 0 else -1


@dataclass
class SyntheticFrame:
    image: np.ndarray  # BGR uint8, height × width × 3
    boxes: list[GroundTruth]
    meta: SceneMeta


@dataclass
class SyntheticClip:
    frames: list[np.ndarray]
    boxes: list[list[GroundTruth]]  # per frame; a person keeps one track id for the whole clip
    meta: SceneMeta
    fps: float
    line: CountLine
    crossings: int  # people who crossed the line inwards (boarded, entered): the true count
    exits: int  # people who crossed it outwards


# --- Scene geometry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Where the floor is, how tall a person looks at each depth, and where the door and count line are."""

    kind: SceneKind
    width: int
    height: int
    horizon: float  # y where the floor meets the far wall
    near_height: float  # a person's height in pixels standing at the bottom edge
    far_height: float  # ... and standing at the horizon

    def depth(self, y: float) -> float:
        return (y - self.horizon) / (self.height - self.horizon)

    def person_height(self, foot_y: float) -> float:
        s = min(1.0, max(0.0, self.depth(foot_y)))
        return self.far_height + s * (self.near_height - self.far_height)

    def floor_span(self, y: float) -> tuple[float, float]:
        """Left and right x of the walkable floor at row y."""
        w, s = self.width, min(1.0, max(0.0, self.depth(y)))
        if self.kind == "store":  # side shelves meet the floor at 60 % depth, then the floor is full width
            left = 0.2 * w * max(0.0, 1.0 - s / 0.6)
            return left, w - left
        left, right = 0.42 * w - 0.2 * w * s, 0.58 * w + 0.2 * w * s
        return left, (0.95 * w if s > 0.55 else right)  # the boarding area by the front door

    def count_line(self) -> CountLine:
        w, h = self.width, self.height
        if self.kind == "store":  # across the floor in front of the entrance; inwards = towards the camera
            y = self.horizon + 0.3 * (h - self.horizon)
            return CountLine((0.3 * w, y), (0.9 * w, y))
        return CountLine((0.78 * w, 0.55 * h), (0.78 * w, float(h)))  # the front door; inwards = leftwards


def _layout(kind: SceneKind, width: int, height: int) -> _Layout:
    if kind == "store":
        return _Layout(kind, width, height, horizon=0.36 * height, near_height=0.8 * height,
                       far_height=0.2 * height)
    if kind == "bus":
        return _Layout(kind, width, height, horizon=0.3 * height, near_height=0.78 * height,
                       far_height=0.18 * height)
    raise ValueError(f"unknown scene kind {kind!r}")


def _pt(point: Point) -> tuple[int, int]:
    return round(point[0]), round(point[1])


def _pts(*points: Point) -> np.ndarray:
    return np.array([[round(x), round(y)] for x, y in points], dtype=np.int32)


def _random_colour(rng: np.random.Generator, low: int = 30, high: int = 230) -> Colour:
    b, g, r = (int(v) for v in rng.integers(low, high, 3))
    return b, g, r


def _draw_store(layout: _Layout, rng: np.random.Generator) -> np.ndarray:
    """A shop seen from above the checkout: back wall with shelves and the entrance, tiled floor, side shelves."""
    w, h, hz = layout.width, layout.height, layout.horizon
    tint = rng.integers(-15, 16, 3)
    image = np.empty((h, w, 3), np.uint8)
    image[:] = np.clip(np.array([200, 212, 220]) + tint, 0, 255)
    image[: int(0.06 * h)] = (170, 175, 180)  # ceiling, with light panels
    for x in range(int(0.1 * w), w, int(0.22 * w)):
        cv2.rectangle(image, (x, 2), (x + int(0.1 * w), int(0.04 * h)), (250, 250, 245), -1)
    floor = _pts((0.2 * w, hz), (0.8 * w, hz), (w, 0.6 * h + 0.4 * hz), (w, h), (0, h), (0, 0.6 * h + 0.4 * hz))
    cv2.fillPoly(image, [floor], (150, 156, 160))
    for i in range(1, 8):  # tile joints, denser with distance
        y = hz + (h - hz) * (i / 8) ** 1.6
        left, right = layout.floor_span(y)
        cv2.line(image, (round(left), round(y)), (round(right), round(y)), (130, 136, 140), 1)
    for i in range(-6, 7):
        cv2.line(image, (round(0.5 * w + i * 0.05 * w), round(hz)), (round(0.5 * w + i * 0.16 * w), h),
                 (130, 136, 140), 1)
    door = (0.56 * w, 0.12 * h, 0.7 * w, hz)
    for x0 in (0.22 * w + k * 0.11 * w for k in range(6)):  # back-wall shelving units, skipping the door
        if x0 + 0.1 * w > door[0] and x0 < door[2]:
            continue
        _draw_shelf_unit(image, (x0, 0.14 * h, x0 + 0.1 * w, hz), rng)
    cv2.rectangle(image, _pt((door[0], door[1])), _pt((door[2], door[3])), (90, 90, 95), -1)
    cv2.rectangle(image, _pt((door[0] + 4, door[1] + 4)), _pt((door[2] - 4, hz - 2)), (235, 215, 170), -1)
    cv2.line(image, _pt(((door[0] + door[2]) / 2, door[1])), _pt(((door[0] + door[2]) / 2, hz)),
             (90, 90, 95), 2)
    for sign in (1, -1):  # side shelves in perspective
        edge = 0.0 if sign == 1 else float(w)
        inner = 0.2 * w if sign == 1 else 0.8 * w
        face = _pts((edge, 0.02 * h), (inner, 0.16 * h), (inner, hz), (edge, 0.6 * h + 0.4 * hz))
        cv2.fillPoly(image, [face], (95, 110, 125))
        for level in np.linspace(0.0, 1.0, 6)[1:-1]:
            y_edge = 0.02 * h + level * (0.6 * h + 0.4 * hz - 0.02 * h)
            y_inner = 0.16 * h + level * (hz - 0.16 * h)
            for k in range(6):  # products on the board
                a, b = k / 6, (k + 0.8) / 6
                xa, xb = edge + a * (inner - edge), edge + b * (inner - edge)
                ya, yb = y_edge + a * (y_inner - y_edge), y_edge + b * (y_inner - y_edge)
                drop = 0.08 * h * (1 - a * 0.6)
                cv2.fillPoly(image, [_pts((xa, ya - drop), (xb, yb - drop), (xb, yb), (xa, ya))],
                             _random_colour(rng))
            cv2.line(image, _pt((edge, y_edge)), _pt((inner, y_inner)), (60, 70, 80), 2)
    return image


def _draw_shelf_unit(image: np.ndarray, rect: tuple[float, float, float, float], rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = rect
    cv2.rectangle(image, _pt((x0, y0)), _pt((x1, y1)), (80, 95, 110), -1)
    for level in np.linspace(y0, y1, 5)[1:]:
        for k in range(5):
            a = x0 + (x1 - x0) * (k + 0.1) / 5
            cv2.rectangle(image, _pt((a, level - (y1 - y0) / 5 + 3)), _pt((a + (x1 - x0) / 6, level - 1)),
                          _random_colour(rng), -1)
        cv2.line(image, _pt((x0, level)), _pt((x1, level)), (50, 60, 70), 2)


def _draw_bus(layout: _Layout, lighting: str, rng: np.random.Generator) -> np.ndarray:
    """Inside a bus from the front: aisle running back, seat rows either side, windows, the front door on the right."""
    w, h, hz = layout.width, layout.height, layout.horizon
    image = np.empty((h, w, 3), np.uint8)
    image[:] = (175, 180, 185)
    window = (70, 40, 30) if lighting == "night" else (235, 220, 200)
    for sign in (1, -1):
        edge, inner = (0.0, 0.36 * w) if sign == 1 else (float(w), 0.64 * w)
        cv2.fillPoly(image, [_pts((edge, 0.1 * h), (inner, 0.14 * h), (inner, 0.26 * h), (edge, 0.5 * h))], window)
        cv2.line(image, _pt((edge, 0.06 * h)), _pt((inner, 0.12 * h)), (120, 120, 125), 3)  # handrail
    cv2.rectangle(image, _pt((0.36 * w, 0.12 * h)), _pt((0.64 * w, hz)), window, -1)  # rear window
    floor = _pts((0.36 * w, hz), (0.64 * w, hz), (w, h), (0, h))
    cv2.fillPoly(image, [floor], (95, 100, 105))
    cv2.fillPoly(image, [_pts((0.42 * w, hz), (0.58 * w, hz), (0.78 * w, h), (0.22 * w, h))], (70, 75, 80))
    fabric = _random_colour(rng, 40, 160)
    for i in range(6, 0, -1):  # seat rows, far to near
        s = (i / 7) ** 1.3
        y = hz + s * (h - hz)
        left, right = 0.42 * w - 0.2 * w * s, 0.58 * w + 0.2 * w * s
        seat_w, seat_h = (0.1 + 0.25 * s) * w, (0.06 + 0.3 * s) * h
        for x0, x1 in ((left - seat_w, left), (right, right + seat_w)):
            if x0 > 0.6 * w and s > 0.45:
                continue  # the boarding area has no seats
            cv2.rectangle(image, _pt((x0, y - seat_h)), _pt((x1, y)), fabric, -1)
            cv2.rectangle(image, _pt((x0, y - seat_h)), _pt((x1, y - 0.8 * seat_h)), (60, 60, 60), -1)
    door = (0.82 * w, 0.08 * h, 0.99 * w, 0.97 * h)
    cv2.rectangle(image, _pt((door[0], door[1])), _pt((door[2], door[3])), (80, 85, 90), -1)
    for x0, x1 in ((door[0] + 4, (door[0] + door[2]) / 2 - 2), ((door[0] + door[2]) / 2 + 2, door[2] - 4)):
        cv2.rectangle(image, _pt((x0, door[1] + 6)), _pt((x1, 0.85 * h)), window, -1)
    cv2.rectangle(image, _pt((door[0], 0.9 * h)), _pt((door[2], door[3])), (0, 210, 255), -1)  # step edge
    return image


def _background(layout: _Layout, lighting: str, scene_layout: int) -> np.ndarray:
    """The empty scene; `scene_layout` fixes the furnishings so one camera always sees the same place."""
    rng = np.random.default_rng([scene_layout, 0 if layout.kind == "store" else 1])
    if layout.kind == "store":
        return _draw_store(layout, rng)
    return _draw_bus(layout, lighting, rng)


def _apply_lighting(image: np.ndarray, lighting: str, rng: np.random.Generator) -> np.ndarray:
    """Scale the light, cool it at night, soften and add sensor noise that grows as light falls."""
    out: np.ndarray = image.astype(np.float32) * LIGHTING_GAIN[lighting]
    if lighting == "night":
        out *= np.array([1.25, 1.0, 0.8], np.float32)
        out = cv2.GaussianBlur(out, (5, 5), 0)
    # Luma-only noise: a third of the random draws of per-channel noise, and it looks like sensor grain.
    out += rng.standard_normal((*out.shape[:2], 1), dtype=np.float32) * _LIGHTING_NOISE[lighting]
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def night_vision(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a camera in infrared night mode records of the scene: no colour, the scene lifted by the camera's
    own IR illuminator (bright in the middle, falling off to the corners), and heavy grain. The demo champion
    never saw such frames; night-shift cameras send them."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    height, width = grey.shape
    ys, xs = np.ogrid[:height, :width]
    falloff = 1.0 - 0.55 * (((xs - width / 2) / (width / 2)) ** 2 + ((ys - height / 2) / (height / 2)) ** 2) / 2
    grey = grey * (2.4 * falloff) + 18.0 + rng.standard_normal(grey.shape, dtype=np.float32) * 11.0
    return cv2.cvtColor(np.clip(grey, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


# --- People -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Figure:
    """How one person looks; where they stand is given when drawing."""

    track_id: int
    scale: float
    skin: Colour
    hair: Colour
    shirt: Colour
    trousers: Colour


def _new_figure(track_id: int, rng: np.random.Generator) -> _Figure:
    return _Figure(
        track_id=track_id,
        scale=float(np.clip(rng.normal(1.0, 0.07), 0.8, 1.15)),
        skin=_SKIN[int(rng.integers(len(_SKIN)))],
        hair=_HAIR[int(rng.integers(len(_HAIR)))],
        shirt=_random_colour(rng),
        trousers=_random_colour(rng, 20, 140),
    )


def _draw_person(image: np.ndarray, figure: _Figure, foot: Point, height: float, phase: float) -> Box | None:
    """Draw a walking figure standing on `foot`; return its visible box, or None if too little shows.

    The figure is drawn on a small canvas with a mask and pasted, so the box is exactly its pixels.
    """
    h = height * figure.scale
    pad = 4
    cw, ch = math.ceil(0.8 * h) + 2 * pad, math.ceil(h) + 2 * pad
    ox, oy = round(foot[0]) - cw // 2, round(foot[1] - h) - pad
    canvas = np.zeros((ch, cw, 3), np.uint8)
    mask = np.zeros((ch, cw), np.uint8)
    cx, top = foot[0] - ox, foot[1] - h - oy
    swing = math.sin(phase)

    def line(a: Point, b: Point, colour: Colour, thickness: float) -> None:
        for target, value in ((canvas, colour), (mask, 255)):
            cv2.line(target, _pt(a), _pt(b), value, max(2, round(thickness)))

    for side in (-1, 1):  # legs and shoes
        hip = (cx + side * 0.055 * h, top + 0.53 * h)
        toe = (cx + side * 0.055 * h + side * 0.09 * h * swing, top + 0.97 * h)
        line(hip, toe, figure.trousers, 0.085 * h)
        for target, value in ((canvas, (25, 25, 30)), (mask, 255)):
            cv2.ellipse(target, _pt(toe), (max(2, round(0.05 * h)), max(1, round(0.022 * h))), 0, 0, 360,
                        value, -1)
    torso = _pts((cx - 0.15 * h, top + 0.17 * h), (cx + 0.15 * h, top + 0.17 * h),
                 (cx + 0.12 * h, top + 0.56 * h), (cx - 0.12 * h, top + 0.56 * h))
    for target, value in ((canvas, figure.shirt), (mask, 255)):
        cv2.fillConvexPoly(target, torso, value)
    sleeve: Colour = (int(figure.shirt[0] * 0.8), int(figure.shirt[1] * 0.8), int(figure.shirt[2] * 0.8))
    for side in (-1, 1):  # arms swing against the legs
        hand = (cx + side * 0.17 * h - side * 0.07 * h * swing, top + 0.5 * h)
        line((cx + side * 0.14 * h, top + 0.19 * h), hand, sleeve, 0.055 * h)
        line(hand, hand, figure.skin, 0.06 * h)
    line((cx, top + 0.12 * h), (cx, top + 0.18 * h), figure.skin, 0.06 * h)  # neck
    r = max(2, round(0.075 * h))
    for target, value in ((canvas, figure.skin), (mask, 255)):
        cv2.circle(target, _pt((cx, top + r)), r, value, -1)
    cv2.ellipse(canvas, _pt((cx, top + r * 0.95)), (r, round(r * 0.9)), 0, 180, 360, figure.hair, -1)
    return _paste(image, canvas, mask, ox, oy)


def _paste(image: np.ndarray, canvas: np.ndarray, mask: np.ndarray, ox: int, oy: int) -> Box | None:
    """Copy the masked canvas into the image at (ox, oy); return the box of what landed inside the image."""
    ih, iw = image.shape[:2]
    x0, y0, x1, y1 = max(0, ox), max(0, oy), min(iw, ox + canvas.shape[1]), min(ih, oy + canvas.shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    visible = mask[y0 - oy : y1 - oy, x0 - ox : x1 - ox] > 0
    region = image[y0:y1, x0:x1]
    region[visible] = canvas[y0 - oy : y1 - oy, x0 - ox : x1 - ox][visible]
    shown, total = int(np.count_nonzero(visible)), int(np.count_nonzero(mask))
    if total == 0 or shown < 0.35 * total:
        return None  # mostly outside the frame: a labeller would not box it
    bx, by, bw, bh = cv2.boundingRect(visible.astype(np.uint8))
    if bw < 4 or bh < 4:
        return None
    return float(x0 + bx), float(y0 + by), float(bw), float(bh)


def _random_foot(layout: _Layout, rng: np.random.Generator, depth: tuple[float, float] = (0.04, 0.97)) -> Point:
    """A point on the walkable floor, between the given depths (0 = far wall, 1 = camera)."""
    s = float(rng.uniform(*depth))
    y = layout.horizon + s * (layout.height - layout.horizon)
    left, right = layout.floor_span(y)
    margin = 0.12 * layout.person_height(y)
    return float(rng.uniform(left + margin, max(left + margin + 1, right - margin))), y


# --- Scenes and clips ---------------------------------------------------------------------------


def sample_lighting(kind: SceneKind, seed: Seed) -> str:
    """A lighting bucket with the odds a store or a bus sees over a day."""
    return str(rng_from(seed).choice(LIGHTINGS, p=_LIGHTING_ODDS[kind]))


def sample_crowd(seed: Seed) -> int:
    """Mostly a handful of people, sometimes nobody, sometimes a rush."""
    rng = rng_from(seed)
    bucket = rng.choice(3, p=(0.15, 0.6, 0.25))
    low, high = ((0, 2), (3, 10), (11, MAX_CROWD))[int(bucket)]
    return int(rng.integers(low, high + 1))


def render_scene(kind: SceneKind, seed: Seed, *, width: int = 640, height: int = 360,
                 lighting: str | None = None, crowd: int | None = None, layout: int = 0) -> SyntheticFrame:
    """One still frame of a store or bus with `crowd` people, lit by `lighting` (both drawn if not given)."""
    rng = rng_from(seed)
    lighting = lighting or sample_lighting(kind, rng)
    crowd = sample_crowd(rng) if crowd is None else crowd
    geometry = _layout(kind, width, height)
    image = _background(geometry, lighting, layout)
    people = [(_new_figure(i + 1, rng), _random_foot(geometry, rng), float(rng.uniform(0, 2 * math.pi)))
              for i in range(crowd)]
    boxes = []
    for figure, foot, phase in sorted(people, key=lambda p: p[1][1]):  # far first, so near people occlude
        box = _draw_person(image, figure, foot, geometry.person_height(foot[1]), phase)
        if box is not None:
            boxes.append(GroundTruth(box, figure.track_id))
    boxes.sort(key=lambda b: b.track_id)
    meta = SceneMeta(kind, lighting, crowd, width, height)
    return SyntheticFrame(_apply_lighting(image, lighting, rng), boxes, meta)


@dataclass(frozen=True)
class _Walk:
    """Linear motion from `start` to `end`, leaving at `t0` and taking `duration` seconds (standing before/after)."""

    figure: _Figure
    start: Point
    end: Point
    t0: float
    duration: float
    phase0: float

    def at(self, t: float) -> tuple[Point, float]:
        progress = min(1.0, max(0.0, (t - self.t0) / self.duration)) if self.duration > 0 else 0.0
        x = self.start[0] + progress * (self.end[0] - self.start[0])
        y = self.start[1] + progress * (self.end[1] - self.start[1])
        walking = 0.0 < progress < 1.0
        return (x, y), (self.phase0 + 2 * math.pi * 1.8 * t if walking else 0.0)


def _doorway_and_inside(layout: _Layout, rng: np.random.Generator) -> tuple[Point, Point]:
    """A point in the doorway (outside the count line) and one inside, for someone coming in."""
    w, h = layout.width, layout.height
    if layout.kind == "store":
        doorway = (float(rng.uniform(0.58, 0.68) * w), layout.horizon + 0.02 * (h - layout.horizon))
        inside = _random_foot(layout, rng, depth=(0.55, 0.95))
        return doorway, (min(max(inside[0], 0.32 * w), 0.88 * w), inside[1])
    doorway = (float(rng.uniform(0.86, 0.91) * w), float(rng.uniform(0.8, 0.9) * h))
    inside = (float(rng.uniform(0.45, 0.55) * w), float(rng.uniform(0.45, 0.6) * h))
    return doorway, inside


def _walk_through(figure: _Figure, start: Point, end: Point, line: CountLine, seconds: float,
                  rng: np.random.Generator) -> _Walk:
    """A walk from start to end timed so it crosses the count line well inside the clip."""
    duration = float(rng.uniform(1.6, 2.6))
    s0, s1 = line.side(start), line.side(end)
    at_line = s0 / (s0 - s1) if s0 != s1 else 0.5
    t_cross = float(rng.uniform(0.2, 0.8)) * seconds
    return _Walk(figure, start, end, t_cross - at_line * duration, duration, float(rng.uniform(0, 2 * math.pi)))


def render_clip(kind: SceneKind, seed: Seed, *, width: int = 640, height: int = 360, seconds: float = 3.0,
                fps: float = 12.0, lighting: str | None = None, layout: int = 0) -> SyntheticClip:
    """A short clip at the entrance: people come in across the count line, a few go out, others stand.

    The true count is measured on the walkers' paths at the frame times, so it is what the frames show.
    """
    rng = rng_from(seed)
    lighting = lighting or sample_lighting(kind, rng)
    geometry = _layout(kind, width, height)
    line = geometry.count_line()
    n_in, n_out, n_still = int(rng.integers(2, 7)), int(rng.integers(0, 3)), int(rng.integers(0, 5))
    walks: list[_Walk] = []
    for i in range(n_in + n_out):
        doorway, inside = _doorway_and_inside(geometry, rng)
        start, end = (doorway, inside) if i < n_in else (inside, doorway)
        walks.append(_walk_through(_new_figure(i + 1, rng), start, end, line, seconds, rng))
    for i in range(n_still):
        spot = _random_foot(geometry, rng, depth=(0.1, 0.6) if kind == "bus" else (0.45, 0.95))
        walks.append(_Walk(_new_figure(n_in + n_out + i + 1, rng), spot, spot, 0.0, 0.0, 0.0))

    background = _background(geometry, lighting, layout)
    times = [i / fps for i in range(max(1, round(seconds * fps)))]
    frames, per_frame = [], []
    for t in times:
        image = background.copy()
        placed = []
        for walk in walks:
            (x, y), phase = walk.at(t)
            placed.append((walk.figure, (x + float(rng.normal(0, 0.7)), y + float(rng.normal(0, 0.7))), phase))
        boxes = []
        for figure, foot, phase in sorted(placed, key=lambda p: p[1][1]):
            box = _draw_person(image, figure, foot, geometry.person_height(foot[1]), phase)
            if box is not None:
                boxes.append(GroundTruth(box, figure.track_id))
        boxes.sort(key=lambda b: b.track_id)
        frames.append(_apply_lighting(image, lighting, rng))
        per_frame.append(boxes)
    crossings = [line.crossing(walk.at(times[0])[0], walk.at(times[-1])[0]) for walk in walks]
    meta = SceneMeta(kind, lighting, len(walks), width, height)
    return SyntheticClip(frames, per_frame, meta, fps, line, crossings.count(1), crossings.count(-1))


# --- Encoding -----------------------------------------------------------------------------------


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode the frame as JPEG")
    return encoded.tobytes()


def encode_mp4(frames: list[np.ndarray], fps: float) -> bytes:
    """MPEG-4 (mp4v) in an MP4 container, as the edge boxes record."""
    if not frames:
        raise ValueError("a clip needs at least one frame")
    height, width = frames[0].shape[:2]
    with tempfile.TemporaryDirectory(prefix="loupe-clip-") as tmp:
        path = Path(tmp) / "clip.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            raise RuntimeError("OpenCV cannot write mp4v video here (is its FFmpeg backend missing?)")
        try:
            for frame in frames:
                writer.write(frame)
        finally:
            writer.release()
        return path.read_bytes()
