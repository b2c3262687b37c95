"""The model a device is told to run (heartbeat answers, `GET /models/current`)."""

from rest_framework import serializers


class DesiredModelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.CharField()
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()
    input_width = serializers.IntegerField()
    input_height = serializers.IntegerField()
    classes = serializers.ListField(child=serializers.CharField())
    url = serializers.CharField(help_text="GET it with the device token; Range resumes a broken download")
