"""The model registry: model versions, the detector, inference, server pre-labels, shadow evaluation."""
