"""Detector maths and the ONNX detector, shared by the server and the device (`loupe-edge[camera]`).

Framework-free: numpy, OpenCV and onnxruntime only, never Django nor anything of the server (import-linter).
`geometry` (letterbox, YOLO head decoding, NMS, boxes back to pixels) and `detector` (one onnxruntime session:
JPEG or pixels in, boxes out)."""
