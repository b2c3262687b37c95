"""One display name per model version everywhere: "<name> v<version>", and a sensible name when a device did
not name its model (the editor showed "Model v")."""

from __future__ import annotations

from activelearning.registry.models import ModelVersion
from annotations.models import Prediction


def test_a_prediction_names_its_model_as_the_models_page_does_with_a_fallback_for_blank_names():
    assert Prediction(model_name="people-detector", model_version="3").model_display_name == "people-detector v3"
    assert Prediction(model_name="", model_version="").model_display_name == "field model"
    assert Prediction(model_name="", model_version="7").model_display_name == "field model v7"
    assert Prediction(model_name="", model_version="", source="server").model_display_name == "server model"
    assert ModelVersion(name="people-detector", version=3).display_name == "people-detector v3"
