"""The channel layer the settings choose works: Redis when REDIS_URL is set (CI), in-memory otherwise."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer
from django.conf import settings


@pytest.mark.asyncio
async def test_channel_layer_delivers_a_group_message():
    layer = get_channel_layer()
    expected = "RedisChannelLayer" if settings.REDIS_URL else "InMemoryChannelLayer"
    assert type(layer).__name__ == expected
    channel = await layer.new_channel()
    await layer.group_add("loupe-test", channel)
    try:
        await layer.group_send("loupe-test", {"type": "queue.stats", "pending": 3})
        message = await layer.receive(channel)
        assert message == {"type": "queue.stats", "pending": 3}
    finally:
        await layer.group_discard("loupe-test", channel)
