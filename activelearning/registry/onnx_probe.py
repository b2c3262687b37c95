"""Validate an uploaded ONNX detector in a child process with memory and CPU limits (no Django here).

`python -m activelearning.registry.onnx_probe FILE [--classes JSON] [--input-size W H] [--max-memory-mb N]
[--max-cpu-seconds N]` prints one JSON object: `{"ok": true, ...facts}` or `{"ok": false, "code", "message",
"details"}`. The parent (activelearning/registry/services.py) also enforces a wall-clock timeout, so a hostile or broken
file can at worst kill this process, never the web server.

Only self-contained ONNX is accepted: the file is parsed as a protobuf (never unpickled), any tensor that
refers to external data is refused before anything could open it, only the standard operator domains are
allowed, and the session is built from the bytes in memory. The output must be the Ultralytics YOLOv8/11
layout `[1, 4 + C, N]` (cx, cy, w, h, then C class scores) and one test inference on a blank frame must
produce it.
"""

from __future__ import annotations

import argparse
import ast
import json
import resource
import sys
import time
from collections.abc import Iterator
from typing import Any

ALLOWED_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})
# Operators that run arbitrary code (onnxruntime-extensions' PyOp, torch's PythonOp export).
FORBIDDEN_OPS = frozenset({"PyOp", "PythonOp", "PythonOpGrad"})
PICKLE_PREFIXES = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
ZIP_PREFIX = b"PK\x03\x04"  # torch.save / .pt archives


class Refused(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or {}


def _graphs(graph: Any) -> Iterator[Any]:
    """The graph and every subgraph (If/Loop/Scan bodies), depth first."""
    import onnx

    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(attribute.g)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for sub in attribute.graphs:
                    yield from _graphs(sub)


def _tensors(graph: Any) -> Iterator[Any]:
    import onnx

    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.TENSOR:
                yield attribute.t
            elif attribute.type == onnx.AttributeProto.TENSORS:
                yield from attribute.tensors


def parse(data: bytes) -> Any:
    import onnx
    from google.protobuf.message import DecodeError

    if data.startswith(PICKLE_PREFIXES) or data.startswith(ZIP_PREFIX):
        raise Refused("not_onnx", "This is a pickle or a PyTorch archive, not ONNX; export the model to ONNX.")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except DecodeError as exc:
        raise Refused("not_onnx", "The file is not a readable ONNX protobuf (truncated or another format).",
                      {"reason": str(exc)[:200]}) from exc
    if not model.graph.node or not model.opset_import:
        raise Refused("not_onnx", "The file parsed, but it holds no ONNX graph.")
    return model


def check_self_contained(model: Any) -> None:
    """Refuse external data (a path could point anywhere: ../../etc/passwd, /abs, a symlink) and code ops."""
    import onnx

    for graph in _graphs(model.graph):
        for tensor in _tensors(graph):
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                location = next((e.value for e in tensor.external_data if e.key == "location"), "")
                raise Refused("external_data", "Tensors stored outside the file are not accepted; save the model "
                              "as one self-contained .onnx file.", {"tensor": tensor.name, "location": location[:200]})
        for node in graph.node:
            if node.domain not in ALLOWED_DOMAINS or node.op_type in FORBIDDEN_OPS:
                raise Refused("unsupported_operator", "The model uses an operator outside the standard ONNX "
                              "domains or one that runs code.", {"op_type": node.op_type, "domain": node.domain})
    for opset in model.opset_import:
        if opset.domain not in ALLOWED_DOMAINS:
            raise Refused("unsupported_operator", "The model imports a custom operator domain.",
                          {"domain": opset.domain})
    if len(model.functions):
        raise Refused("unsupported_operator", "Model-local functions are not accepted.")


def _dims(value_info: Any) -> list[int | str | None]:
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in shape.dim]


def read_classes(model: Any, declared: list[str] | None) -> list[str] | None:
    """Declared names win; otherwise Ultralytics' metadata `names` (`{0: 'person', …}`, a Python literal)."""
    if declared is not None:
        return declared
    meta = {p.key: p.value for p in model.metadata_props}
    if "names" not in meta:
        return None
    try:
        names = json.loads(meta["names"])
    except ValueError:
        try:
            names = ast.literal_eval(meta["names"])  # literals only: never evaluates code
        except (ValueError, SyntaxError) as exc:
            raise Refused("invalid_class_map", "The model's `names` metadata is not readable.") from exc
    if isinstance(names, dict):
        try:
            return [str(names[k]) for k in sorted(names, key=int)]
        except (TypeError, ValueError) as exc:
            raise Refused("invalid_class_map", "The model's `names` metadata is not a class map.") from exc
    if isinstance(names, list):
        return [str(n) for n in names]
    raise Refused("invalid_class_map", "The model's `names` metadata is not a class map.")


def check_layout(model: Any, classes: list[str] | None, declared_size: tuple[int, int] | None) -> dict[str, Any]:
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise Refused("unsupported_layout", "A detector takes exactly one image input.", {"inputs": len(inputs)})
    dims = _dims(inputs[0])
    if len(dims) != 4 or dims[1] != 3 or dims[0] not in (1, None) and not isinstance(dims[0], str):
        raise Refused("unsupported_layout", "The input must be [1, 3, H, W].", {"input_shape": dims})
    height, width = dims[2], dims[3]
    if isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0:
        if declared_size is not None and declared_size != (width, height):
            raise Refused("unsupported_layout", "The declared input size differs from the model's.",
                          {"model": [width, height], "declared": list(declared_size)})
    elif declared_size is None:
        raise Refused("unsupported_layout", "The input size is dynamic: declare it (input_width, input_height).",
                      {"input_shape": dims})
    else:
        width, height = declared_size
    if not graph.output:
        raise Refused("unsupported_layout", "The model has no output.")
    out = _dims(graph.output[0])
    if len(out) != 3:
        raise Refused("unsupported_layout", "The output must be [1, 4 + C, N] (Ultralytics YOLOv8/11 layout).",
                      {"output_shape": out})
    channels = out[1] if isinstance(out[1], int) and out[1] > 0 else None
    if channels is not None and channels < 5:
        raise Refused("unsupported_layout", "The output must be [1, 4 + C, N] with at least one class.",
                      {"output_shape": out})
    if classes is not None and channels is not None and channels - 4 != len(classes):
        raise Refused("invalid_class_map", "The class map does not match the model's output.",
                      {"model_classes": channels - 4, "class_map": len(classes)})
    return {"input_name": inputs[0].name, "input_width": int(width), "input_height": int(height),  # type: ignore[arg-type]
            "output_shape": out, "output_channels": channels}


def test_inference(data: bytes, facts: dict[str, Any], classes: list[str] | None) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        blank = np.full((1, 3, facts["input_height"], facts["input_width"]), 114 / 255, dtype=np.float32)
        started = time.perf_counter()
        output = session.run(None, {facts["input_name"]: blank})[0]
        elapsed_ms = (time.perf_counter() - started) * 1000
    except Exception as exc:  # noqa: BLE001 - any runtime failure is the model's, reported as such
        raise Refused("inference_failed", "The test inference on a blank frame failed.",
                      {"reason": f"{type(exc).__name__}: {str(exc)[:300]}"}) from exc
    shape = list(getattr(output, "shape", ()))
    if len(shape) != 3 or shape[0] != 1 or shape[1] < 5:
        raise Refused("unsupported_layout", "The test inference did not return [1, 4 + C, N].",
                      {"output_shape": shape})
    if classes is not None and shape[1] - 4 != len(classes):
        raise Refused("invalid_class_map", "The class map does not match the model's output.",
                      {"model_classes": shape[1] - 4, "class_map": len(classes)})
    if not np.isfinite(output).all():
        raise Refused("inference_failed", "The test inference returned NaN or infinite values.")
    return {"num_classes": shape[1] - 4, "num_candidates": shape[2], "test_inference_ms": round(elapsed_ms, 2)}


def probe(data: bytes, *, classes: list[str] | None, input_size: tuple[int, int] | None) -> dict[str, Any]:
    import onnx

    model = parse(data)
    check_self_contained(model)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise Refused("invalid_onnx", "onnx.checker refused the model.", {"reason": str(exc)[:300]}) from exc
    names = read_classes(model, classes)
    facts = check_layout(model, names, input_size)
    facts |= test_inference(data, facts, names)
    if names is None:
        raise Refused("invalid_class_map", "The model carries no class names: declare the class map.",
                      {"num_classes": facts["num_classes"]})
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    facts |= {"classes": names, "opset": opset, "producer": f"{model.producer_name} {model.producer_version}".strip(),
              "metadata": {p.key: p.value[:500] for p in model.metadata_props}}
    return facts


def _limit(max_memory_mb: int, max_cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (max_memory_mb * 1024 * 1024,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (max_cpu_seconds, max_cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--classes", default=None, help="JSON list of class names, in output order")
    parser.add_argument("--input-size", nargs=2, type=int, default=None, metavar=("W", "H"))
    parser.add_argument("--max-memory-mb", type=int, default=2048)
    parser.add_argument("--max-cpu-seconds", type=int, default=30)
    args = parser.parse_args(argv)
    _limit(args.max_memory_mb, args.max_cpu_seconds)
    with open(args.path, "rb") as f:
        data = f.read()
    try:
        facts = probe(data, classes=json.loads(args.classes) if args.classes else None,
                      input_size=tuple(args.input_size) if args.input_size else None)
    except Refused as exc:
        print(json.dumps({"ok": False, "code": exc.code, "message": exc.message, "details": exc.details}))
        return 0
    except MemoryError:
        print(json.dumps({"ok": False, "code": "too_much_memory", "message": "The model needs more memory than "
                          "validation allows.", "details": {"max_memory_mb": args.max_memory_mb}}))
        return 0
    print(json.dumps({"ok": True, **facts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
