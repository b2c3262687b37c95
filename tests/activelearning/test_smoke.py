import hashlib

from tests.factories import jpeg_bytes, prediction_event


def test_upload_then_event_creates_prediction_and_item(kit):
    body = jpeg_bytes()
    response = kit.put_media(body)
    assert response.status_code == 201, response.content
    sha = hashlib.sha256(body).hexdigest()
    response = kit.post_events([prediction_event("e1", sha)])
    assert response.status_code == 200, response.content
    result = response.json()["results"][0]
    assert result["status"] == "created", result
    assert result["review_item"]
