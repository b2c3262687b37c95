"""Retraining API: an admin's "retrain now", the project's dataset versions and training runs."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearning.datasets.models import DatasetVersion
from activelearning.outbound import check_outbound_url
from activelearning.training.callback_receiver import read_signed_body, verify_headers
from activelearning.training.log import clean_line, clean_log
from activelearning.training.models import RetrainRequest, TrainerConfig, TrainingRun
from activelearning.training.runs import accept_callback, trainer_config
from activelearning.training.threshold import configure_retraining, request_retrain
from annotations.api.errors import error_responses
from annotations.models import Role
from annotations.selectors import access_project

ERRORS = error_responses(401, 403, 404, 409)


class RetrainRequestSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = RetrainRequest
        fields = ["id", "project", "epoch", "trigger", "accepted_count", "requested_by", "created_at",
                  "dispatched_at"]


class DatasetVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = DatasetVersion
        fields = ["id", "project", "number", "parent", "request", "content_hash", "stats", "created_at"]


class TrainingRunSerializer(serializers.ModelSerializer):
    """A run as people see it: the log and error without server paths or library warnings
    (`training_log.clean_log`); the raw tail only for the project's admins (`context["admin"]`)."""

    log_tail = serializers.SerializerMethodField(help_text=(
        "The last lines of the trainer's output, cleaned: no server paths, library warnings collapsed."))
    raw_log_tail = serializers.SerializerMethodField(help_text="The raw last lines (admins only; null for others).")
    error = serializers.SerializerMethodField(help_text="Why the run failed, without server paths.")
    model_display_name = serializers.SerializerMethodField(help_text='The candidate it produced ("<name> v<version>").')

    class Meta:
        model = TrainingRun
        fields = ["id", "project", "dataset_version", "request", "backend", "status", "metrics", "model_version",
                  "model_display_name", "error", "log_tail", "raw_log_tail", "created_at", "started_at",
                  "finished_at"]

    def get_log_tail(self, run: TrainingRun) -> list[str]:
        return clean_log(run.log[-8000:].splitlines()[-60:], app_dir=str(settings.BASE_DIR))[-20:]

    def get_raw_log_tail(self, run: TrainingRun) -> list[str] | None:
        return run.log[-4000:].splitlines()[-20:] if self.context.get("admin") else None

    def get_error(self, run: TrainingRun) -> str:
        return clean_line(run.error, app_dir=str(settings.BASE_DIR))

    def get_model_display_name(self, run: TrainingRun) -> str | None:
        return run.model_version.display_name if run.model_version is not None else None


class RetrainView(APIView):
    """`POST /api/v1/projects/{id}/retrain`: request a retrain of the current data now (admins; once per epoch)."""

    @extend_schema(operation_id="project_retrain", request=None, responses={201: RetrainRequestSerializer, **ERRORS})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(RetrainRequestSerializer(request_retrain(project=project, user=request.user)).data,
                        status=201)


class DatasetListView(APIView):
    @extend_schema(operation_id="project_datasets", responses={200: DatasetVersionSerializer(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN, Role.REVIEWER])
        versions = DatasetVersion.objects.filter(project=project).order_by("-number")
        return Response(DatasetVersionSerializer(versions, many=True).data)


class TrainingRunListView(APIView):
    @extend_schema(operation_id="project_training_runs", responses={200: TrainingRunSerializer(many=True), **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, membership = access_project(user=request.user, project_id=project_id,
                                             roles=[Role.ADMIN, Role.REVIEWER])
        runs = (TrainingRun.objects.filter(project=project).select_related("model_version")
                .order_by("-created_at", "-id")[:100])
        return Response(TrainingRunSerializer(runs, many=True,
                                              context={"admin": membership.role == Role.ADMIN}).data)


class TrainerConfigSerializer(serializers.ModelSerializer):
    threshold = serializers.IntegerField(
        source="project.retrain_threshold", min_value=1, max_value=10_000_000, required=False,
        help_text="Accepted corrections since the last dataset version that freeze the next one and retrain.")
    allowed_commands = serializers.SerializerMethodField(
        help_text="The trainer commands this server allows (LOUPE_TRAINER_COMMANDS), by name.")
    webhook_secret_set = serializers.SerializerMethodField(help_text="Whether a webhook secret is stored.")

    class Meta:
        model = TrainerConfig
        fields = ["threshold", "backend", "command", "allowed_commands", "webhook_url", "webhook_secret",
                  "webhook_secret_set", "epochs", "per_site_threshold", "auto_promote", "promote_margin",
                  "slice_tolerance"]
        extra_kwargs = {"webhook_secret": {"write_only": True, "min_length": 32},
                        "promote_margin": {"min_value": 0.0, "max_value": 1.0},
                        "slice_tolerance": {"min_value": 0.0, "max_value": 1.0},
                        "epochs": {"min_value": 1, "max_value": 1000}}

    def get_allowed_commands(self, config: TrainerConfig) -> list[str]:
        return sorted(settings.LOUPE_TRAINER_COMMANDS)

    def get_webhook_secret_set(self, config: TrainerConfig) -> bool:
        return bool(config.webhook_secret)

    def validate_command(self, value: str) -> str:
        if value and value not in settings.LOUPE_TRAINER_COMMANDS:
            raise serializers.ValidationError(
                f"Not a trainer command this server allows; allowed: {sorted(settings.LOUPE_TRAINER_COMMANDS)}.")
        return value

    def validate_webhook_url(self, value: str) -> str:
        return check_outbound_url(value) if value else value


class TrainerConfigView(APIView):
    """`GET/PUT /api/v1/projects/{id}/trainer`: the project's retraining threshold, trainer backend and
    promotion rule (admins). PUT changes only the fields it names."""

    @extend_schema(operation_id="project_trainer", responses={200: TrainerConfigSerializer, **ERRORS})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        return Response(TrainerConfigSerializer(trainer_config(project.pk)).data)

    @extend_schema(operation_id="project_trainer_update", request=TrainerConfigSerializer,
                   responses={200: TrainerConfigSerializer, **ERRORS})
    def put(self, request: Request, project_id: int) -> Response:
        project, _ = access_project(user=request.user, project_id=project_id, roles=[Role.ADMIN])
        body = TrainerConfigSerializer(trainer_config(project.pk), data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        changes = dict(body.validated_data)
        threshold = changes.pop("project", {}).get("retrain_threshold")
        config = configure_retraining(project=project, user=request.user, changes=changes, threshold=threshold)
        return Response(TrainerConfigSerializer(config).data)


CALLBACK_HEADERS = [
    ("X-Loupe-Timestamp", "Unix seconds when the callback was signed; refused beyond 5 minutes of the server's clock."),
    ("X-Loupe-Content-SHA256", "Hex SHA-256 of the exact request body."),
    ("X-Loupe-Signature", 'sha256=<hex HMAC-SHA256, with the trainer secret, of "{run}.{timestamp}.{content_length}.'
                          '{content_sha256}">.'),
]


class TrainingCallbackView(APIView):
    """`POST /api/v1/training-runs/{id}/callback`: an external pipeline's answer, with no account. Its headers
    must be signed for this run (`X-Loupe-Timestamp`, `X-Loupe-Content-SHA256`, `Content-Length`,
    `X-Loupe-Signature: sha256=<hex HMAC-SHA256 of "{run}.{timestamp}.{content_length}.{content_sha256}">` with
    the project's trainer secret), checked before the body is read; an unknown run and a bad signature get the
    same 403 `callback_forbidden`. The body, multipart `payload` (JSON: nonce, status, log?, error?) and `model`
    (the .onnx file), must hash to the signed digest; the run's one-time nonce refuses a replay."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    parser_classes: list[type] = []  # the body is read by `read_signed_body`, after the signature is checked

    @extend_schema(operation_id="training_callback", auth=[], request=None,
                   parameters=[OpenApiParameter(name, str, OpenApiParameter.HEADER, required=True, description=text)
                               for name, text in CALLBACK_HEADERS],
                   responses={200: TrainingRunSerializer, **error_responses(400, 403, 409, 413)})
    def post(self, request: Request, run_id: int) -> Response:
        django_request = request._request
        try:
            content_length: int | None = int(django_request.META.get("CONTENT_LENGTH", ""))
        except ValueError:
            content_length = None
        signed = verify_headers(run_id=run_id, headers=request.headers, content_length=content_length)
        with read_signed_body(signed, meta=django_request.META, stream=django_request) as body:
            run = accept_callback(run=signed.run, payload=body.payload, model_file=body.model_file)
        run.refresh_from_db()
        return Response(TrainingRunSerializer(run).data)

