"""Small ONNX detectors built in the tests with onnx.helper (no weights from anywhere).

`detector_bytes()` is a valid detector: a 1×1 convolution from the [1, 3, S, S] image to 4 + C channels,
reshaped to the Ultralytics layout [1, 4 + C, S·S]. Keyword arguments bend it into the bad files the registry
must refuse.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _conv_weights(channels: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(0, 0.1, size=(channels, 3, 1, 1)).astype(np.float32)


def detector_model(*, size: int = 64, classes: list[str] | None = None, names_metadata: bool = True,
                   output_shape: list[int | str] | None = None, reshape_to: list[int] | None = None,
                   input_dims: list[int | str] | None = None, node_domain: str = "",
                   extra_node: onnx.NodeProto | None = None) -> onnx.ModelProto:
    classes = classes if classes is not None else ["person"]
    channels = 4 + len(classes)
    n = size * size
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, input_dims or [1, 3, size, size])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, output_shape or [1, channels, n])
    weights = numpy_helper.from_array(_conv_weights(channels), "w")
    shape = numpy_helper.from_array(np.array(reshape_to or [1, channels, -1], dtype=np.int64), "shape")
    nodes = [
        helper.make_node("Conv", ["images", "w"], ["features"], domain=node_domain),
        helper.make_node("Sigmoid", ["features"], ["scores"]),
        helper.make_node("Reshape", ["scores", "shape"], ["output0"]),
    ]
    if extra_node is not None:
        nodes.insert(0, extra_node)
    graph = helper.make_graph(nodes, "tiny-detector", [image], [out], initializer=[weights, shape])
    opsets = [helper.make_opsetid("", 17)]
    if node_domain:
        opsets.append(helper.make_opsetid(node_domain, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="loupe-tests")
    model.ir_version = 8
    if names_metadata:
        onnx.helper.set_model_props(model, {"names": json.dumps(dict(enumerate(classes))), "imgsz": f"[{size}, {size}]"})
    return model


def detector_bytes(**kwargs: object) -> bytes:
    return detector_model(**kwargs).SerializeToString()  # type: ignore[arg-type]


def external_data_model(location: str) -> bytes:
    """A valid-looking detector whose weights claim to live in another file at `location`."""
    model = detector_model()
    weights = model.graph.initializer[0]
    weights.ClearField("raw_data")
    weights.ClearField("float_data")
    weights.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "80")):
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    return model.SerializeToString()


def slow_model(size: int = 64, iterations: int = 2_000_000_000) -> bytes:
    """A detector that spins in a Loop before answering: the probe's CPU limit must stop it."""
    body_in = helper.make_tensor_value_info("i", TensorProto.INT64, [])
    body_cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    body_acc = helper.make_tensor_value_info("acc", TensorProto.FLOAT, [])
    body_cond_out = helper.make_tensor_value_info("c_out", TensorProto.BOOL, [])
    body_acc_out = helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [])
    one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
    body = helper.make_graph(
        [helper.make_node("Identity", ["c"], ["c_out"]), helper.make_node("Add", ["acc", "one"], ["acc_out"])],
        "spin", [body_in, body_cond, body_acc], [body_cond_out, body_acc_out], initializer=[one])
    trips = numpy_helper.from_array(np.array(iterations, dtype=np.int64), "trips")
    cond = numpy_helper.from_array(np.array(True), "cond")
    zero = numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")
    model = detector_model(size=size)
    graph = model.graph
    graph.initializer.extend([trips, cond, zero])
    graph.node.insert(0, helper.make_node("Loop", ["trips", "cond", "zero"], ["spun"], body=body))
    # Make the spin feed the output so it cannot be optimised away: scores * (spun * 0 + 1).
    graph.node[-1].input[0] = "scores_spun"
    graph.node.extend([
        helper.make_node("Mul", ["spun", "zero"], ["spun0"]),
        helper.make_node("Add", ["spun0", "one_outer"], ["factor"]),
        helper.make_node("Mul", ["scores", "factor"], ["scores_spun"]),
    ])
    graph.initializer.append(numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one_outer"))
    # Nodes must be topologically sorted: move the Reshape to the end.
    reshape = graph.node[3]
    del graph.node[3]
    graph.node.append(reshape)
    return model.SerializeToString()


def fixed_detector_bytes(candidates: list[tuple[float, float, float, float, float]], *, size: int = 64,
                         classes: list[str] | None = None) -> bytes:
    """A detector that always answers the same candidates (cx, cy, w, h, score of class 0, in input pixels),
    whatever the image: the server boxes a test expects are known exactly."""
    classes = classes if classes is not None else ["person"]
    channels = 4 + len(classes)
    table = np.zeros((1, channels, max(1, len(candidates))), dtype=np.float32)
    for i, (cx, cy, w, h, score) in enumerate(candidates):
        table[0, :5, i] = (cx, cy, w, h, score)
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(table.shape))
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["table", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(nodes, "fixed-detector", [image], [out], initializer=[
        numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="loupe-tests")
    model.ir_version = 8
    helper.set_model_props(model, {"names": json.dumps(dict(enumerate(classes)))})
    return model.SerializeToString()


def memory_hog_model(size: int = 64, floats: int = 400_000_000) -> bytes:
    """A detector that builds a `floats`-long tensor (1.6 GB by default) before answering: it passes a small
    check but must fail, alone, under the inference process's memory cap."""
    model = detector_model(size=size)
    graph = model.graph
    graph.initializer.extend([
        numpy_helper.from_array(np.array([floats], dtype=np.int64), "hog_shape"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "hog_zero"),
    ])
    reshape = graph.node[-1]
    del graph.node[-1]
    graph.node.extend([
        helper.make_node("ConstantOfShape", ["hog_shape"], ["hog"],
                         value=numpy_helper.from_array(np.array([1.0], dtype=np.float32))),
        helper.make_node("ReduceSum", ["hog"], ["hog_sum"], keepdims=0),
        helper.make_node("Mul", ["hog_sum", "hog_zero"], ["hog_nothing"]),
        helper.make_node("Add", ["scores", "hog_nothing"], ["scores_hog"]),
    ])
    reshape.input[0] = "scores_hog"
    graph.node.append(reshape)
    return model.SerializeToString()
