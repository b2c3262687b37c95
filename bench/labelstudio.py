#!/usr/bin/env python3
"""Label Studio link benchmark: Loupe's push and annotation round trip against Label Studio's own API, in one run.

A real Label Studio (PyPI `label-studio` from `make labelstudio`, started as tests/labelstudio_server.py starts it,
SSRF protection off so it can call Loupe on loopback) and a real Loupe (uvicorn on the bench database, with
LOUPE_OUTBOUND_ALLOWED_HOSTS=127.0.0.1). The bench database is made again from the migrated template on every run
and seeded with ORM bulk_create: one project, N still-image assets held by it, a pre-label (3 boxes) and a pending
review item each. Label Studio's data folder is copied from a migrated one kept under var/ (its first start
migrates SQLite for ~30 s; later starts take ~3 s).

1. Push: `activelearning.labelstudio.services.push` of N items (default 10,000) to the linked Label Studio project,
   timed end to end: leasing the items, the task rows and audit events, the payloads with signed media links and
   pre-labels as predictions, Label Studio's imports (1,000 tasks a request) and the task-id mapping. Baseline:
   the very same task JSON (same payloads, rebuilt from the pushed rows) in ONE `POST /api/projects/{id}/import`
   into a second Label Studio project, timed from the client (JSON encoding included). Also printed: the same
   payloads imported in Loupe's batches of 1,000 into a third project. Ratio Loupe/LS in tasks/s.
2. Webhook latency: M annotations (default 200) created through Label Studio's API (`annotations.create`) on
   pushed tasks, one after another; Label Studio calls Loupe's webhook, which stores a Loupe version. Latency =
   the Loupe version's `submitted_at` (written in the transaction that stores it) − the wall clock when the
   create call started. Baseline: the same create call on the baseline project's tasks (no webhook there),
   interleaved one for one. Also printed: how many versions were already stored when Label Studio's call returned
   (Label Studio delivers its webhooks inside the API call).
3. Polling latency: the link is saved again with webhooks off, one catch-up sync round runs (printed: it reads
   every task updated since the link was made), then `services.sync(link, force=True)` runs back to back in a
   thread while M more annotations are created. Printed: the sync round's own duration (p50/p99 over the rounds
   of the phase), and latency as above; baseline: the create calls themselves (no webhook: Label Studio alone).

    make bench-labelstudio                     # = .venv/bin/python bench/labelstudio.py
    .venv/bin/python bench/labelstudio.py --items 2000 --annotations 50 --profile
    .venv/bin/python bench/labelstudio.py --smoke   # 50 items, 10 annotations: does the bench still run?

`--profile` pushes another `--profile-items` items under cProfile at the end (not the timed push) and prints where
the time goes; the .prof file goes beside the results (bench/results/labelstudio-<UTC>.json). The database name
must contain "bench" (default loupe_bench_labelstudio); it is dropped and made again. `--label-studio-url` (and
`--label-studio-token`) use a Label Studio already running instead of starting one: tests/bench passes the test
session's, so `make test` starts Label Studio once.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from bench.harness import (  # noqa: E402
    ROOT,
    BenchFailure,
    Server,
    free_ports,
    git,
    migrated_template,
    parse_args_with_smoke,
    results_path,
    smoke_database_url,
    start_server,
    stop_servers,
    tail,
    uvicorn_argv,
    wait_healthy,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/loupe_bench_labelstudio"
SLUG = "bench-labelstudio"
CLASSES = ["person", "bag"]
LS_BATCH = 1000  # Loupe's import batch (services.BATCH), for the batched baseline
WAIT_S = 60.0  # the longest wait for a version to be stored before the bench gives up
# The same key in this process and in Loupe's server: the link's token is sealed with it and media links signed.
SECRET_KEY = os.environ.get("LOUPE_SECRET_KEY") or "bench-" + secrets.token_hex(32)


# --- set-up ------------------------------------------------------------------------------------------------

def recreate_database(url: str) -> None:
    """Drop the bench database and make it again from the migrated template (a clean state every run)."""
    dbname = urlsplit(url).path.lstrip("/")
    if "bench" not in dbname:
        raise BenchFailure(f"refusing to drop {dbname!r}: the bench database's name must contain 'bench'")
    template = migrated_template(url)
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(dbname),
                                                                        sql.Identifier(template)))


def loupe_env(url: str, media: Path) -> dict[str, str]:
    return {"DATABASE_URL": url, "MEDIA_STORAGE": str(media), "LOUPE_UPLOAD_TMP_DIR": str(media / ".upload-tmp"),
            "LOUPE_SECRET_KEY": SECRET_KEY, "LOUPE_OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
            "LOUPE_CACHE_KEY_PREFIX": f"bench-ls-{uuid.uuid4().hex[:12]}"}


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise


def seed(items: int, boxes: int) -> tuple[Any, Any]:
    """The project (QA off, no retraining), its admin, a member with Label Studio's user's e-mail (so versions
    are authored by a person, as in production), and `items` pending still-image items with a pre-label each."""
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.utils import timezone

    from annotations.models import Asset, AssetHolding, Membership, Prediction, Project, Role, Site
    from reviewer.models import ReviewItem
    from tests.labelstudio_server import LS_EMAIL

    started = time.perf_counter()
    with transaction.atomic():
        project = Project.objects.create(slug=SLUG, name="Bench Label Studio", label_classes=CLASSES,
                                         qa_sample_rate=0.0, retrain_threshold=0)
        admin = User.objects.create_user("bench-ls-admin", password=secrets.token_hex(12))
        Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
        annotator = User.objects.create_user("bench-ls-annotator", email=LS_EMAIL, password=secrets.token_hex(12))
        Membership.objects.create(project=project, user=annotator, role=Role.ANNOTATOR)
        sites = [Site.objects.create(project=project, name=f"site-{s}") for s in range(4)]
        now = timezone.now()
        detections = [{"label": CLASSES[b % 2], "score": round(0.3 + 0.1 * b, 2),
                       "box": [20.0 + 90 * b, 40.0 + 10 * b, 60.0, 150.0]} for b in range(boxes)]
        for start in range(0, items, 2000):
            n = range(start, min(items, start + 2000))
            assets = Asset.objects.bulk_create([Asset(
                sha256=f"{i:064x}", kind="frame", content_type="image/jpeg", file=f"bench-ls/{i:064x}.jpg",
                size_bytes=40_000, width=640, height=480) for i in n])
            AssetHolding.objects.bulk_create([AssetHolding(project=project, asset=a) for a in assets])
            predictions = Prediction.objects.bulk_create([Prediction(
                project=project, asset=a, source="server", event_type="prediction", payload_hash="x", event_id="",
                captured_at=now, received_at=now, model_name="people-det", model_version="3",
                detections=detections, detection_count=len(detections), reason="low_confidence") for a in assets])
            ReviewItem.objects.bulk_create([ReviewItem(
                project=project, asset=p.asset, prediction=p, site=sites[i % len(sites)], reason="low_confidence",
                priority=round(1 - i / (items + 1), 6), required_overlap=1, score_parts={"least_confidence": 0.6})
                for i, p in zip(n, predictions, strict=True)])
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"seeded {items:,} items with {boxes} pre-label boxes each in {time.perf_counter() - started:.1f} s",
          flush=True)
    return project, admin


def ls_version() -> str:
    found = sorted((ROOT / ".venv-labelstudio" / "lib").glob("python*/site-packages/label_studio-*.dist-info"))
    return found[-1].name.removeprefix("label_studio-").removesuffix(".dist-info") if found else "unknown"


def ls_data_dir(scratch: Path) -> Path:
    """A Label Studio data folder for this run: a copy of a migrated one kept in var/ (made on first use: Label
    Studio's first start migrates its SQLite database, ~30 s; a copy starts in ~3 s)."""
    from tests.labelstudio_server import start_label_studio

    template = ROOT / "var" / "bench-labelstudio" / f"ls-template-{ls_version()}"
    if not (template / "label_studio.sqlite3").exists():
        started = time.perf_counter()
        template.parent.mkdir(parents=True, exist_ok=True)
        working = Path(tempfile.mkdtemp(prefix="ls-template-", dir=template.parent))
        with start_label_studio(working):
            pass
        (working / "server.log").unlink(missing_ok=True)
        try:
            working.rename(template)
        except OSError:  # another run made it meanwhile
            shutil.rmtree(working, ignore_errors=True)
        print(f"migrated a Label Studio data folder once ({time.perf_counter() - started:.0f} s): {template}")
    data = scratch / "label-studio"
    shutil.copytree(template, data)
    return data


# --- measurements ----------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    """The q-quantile (0 … 1) by the nearest-rank rule."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": 1000 * pct(values, 0.5), "p99_ms": 1000 * pct(values, 0.99),
            "mean_ms": 1000 * statistics.fmean(values), "n": len(values)}


def ls_post_import(ls_url: str, token: str, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
    """Label Studio's own bulk import: POST /api/projects/{id}/import of `tasks` (JSON); its task ids."""
    answer = httpx.post(f"{ls_url}/api/projects/{project_id}/import", params={"return_task_ids": "true"},
                        json=tasks, headers={"Authorization": f"Token {token}"}, timeout=600)
    if answer.status_code != 201:
        raise BenchFailure(f"Label Studio's import answered {answer.status_code}: {answer.text[:500]}")
    body = answer.json()
    if body.get("task_count") != len(tasks):
        raise BenchFailure(f"Label Studio imported {body.get('task_count')} of {len(tasks)} tasks")
    return list(body.get("task_ids") or [])


def measure_push(link: Any, admin: Any, items: int, ls: Any, ls_url: str, token: str) -> tuple[dict[str, Any], list[int]]:
    from activelearning.datasets.formats import label_config
    from activelearning.labelstudio.models import LabelStudioTask, TaskState
    from activelearning.labelstudio.services import Selection, push, task_payloads

    started = time.perf_counter()
    outcome = push(link=link, selection=Selection(limit=items), actor=admin)
    loupe_s = time.perf_counter() - started
    mapped = LabelStudioTask.objects.filter(link=link, state=TaskState.PUSHED, ls_task_id__isnull=False).count()
    if outcome["pushed"] != items or mapped != items:
        raise BenchFailure(f"the push sent {outcome['pushed']} and mapped {mapped} of {items} items: {outcome}")

    # The very same task JSON: the payloads rebuilt from the pushed rows, in the order they were sent.
    rows = list(LabelStudioTask.objects.filter(link=link).order_by("pk"))
    payloads = task_payloads(link, rows, int(time.time()) + 7 * 24 * 3600)
    config = label_config(CLASSES)
    whole = ls.projects.create(title="bench baseline: one import", label_config=config).id
    started = time.perf_counter()
    baseline_ids = ls_post_import(ls_url, token, whole, payloads)
    ls_s = time.perf_counter() - started
    batched = ls.projects.create(title="bench baseline: batches of 1000", label_config=config).id
    started = time.perf_counter()
    for start in range(0, len(payloads), LS_BATCH):
        ls_post_import(ls_url, token, batched, payloads[start:start + LS_BATCH])
    batched_s = time.perf_counter() - started
    body_mb = len(json.dumps(payloads).encode()) / 1e6
    return {"items": items, "loupe_s": loupe_s, "loupe_tasks_per_s": items / loupe_s,
            "ls_import_s": ls_s, "ls_import_tasks_per_s": items / ls_s,
            "ls_batched_s": batched_s, "ls_batched_tasks_per_s": items / batched_s,
            "loupe_over_ls": ls_s / loupe_s, "loupe_over_ls_batched": batched_s / loupe_s,
            "body_mb": body_mb, "baseline_project": whole}, baseline_ids


def box_result(n: int) -> list[dict[str, Any]]:
    return [{"from_name": "label", "to_name": "image", "type": "rectanglelabels", "original_width": 640,
             "original_height": 480, "value": {"x": 5.0 + n % 40, "y": 10.0, "width": 20.0, "height": 40.0,
                                               "rotation": 0, "rectanglelabels": [CLASSES[n % 2]]}}]


def stored_at(link_id: int, ann_ids: list[int], expected: int) -> dict[int, float]:
    """ls annotation id → the wall clock (epoch s) its Loupe version was written, waiting (bounded) for all."""
    from activelearning.labelstudio.models import LabelStudioVersion
    from annotations.models import Annotation

    deadline = time.monotonic() + WAIT_S
    while True:
        versions = dict(LabelStudioVersion.objects.filter(link_id=link_id, ls_annotation_id__in=ann_ids,
                                                          annotation_id__isnull=False)
                        .values_list("ls_annotation_id", "annotation_id"))
        if len(versions) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if len(versions) < expected:
        raise BenchFailure(f"only {len(versions)} of {expected} Label Studio annotations became Loupe versions "
                           f"within {WAIT_S:.0f} s")
    submitted = dict(Annotation.objects.filter(pk__in=versions.values()).values_list("pk", "submitted_at"))
    return {ann: submitted[version].timestamp() for ann, version in versions.items()}


def measure_webhook(link: Any, ls: Any, tasks: list[int], baseline_tasks: list[int]) -> dict[str, Any]:
    from activelearning.labelstudio.models import LabelStudioVersion

    started: dict[int, float] = {}
    calls, baseline_calls, at_return = [], [], 0
    for n, (task, other) in enumerate(zip(tasks, baseline_tasks, strict=True)):
        wall, t0 = time.time(), time.perf_counter()
        annotation = ls.annotations.create(id=task, result=box_result(n), lead_time=3.0)
        calls.append(time.perf_counter() - t0)
        started[annotation.id] = wall
        at_return += LabelStudioVersion.objects.filter(link_id=link.pk, ls_annotation_id=annotation.id).exists()
        t0 = time.perf_counter()
        ls.annotations.create(id=other, result=box_result(n), lead_time=3.0)
        baseline_calls.append(time.perf_counter() - t0)
    stored = stored_at(link.pk, list(started), len(started))
    latency = [stored[a] - started[a] for a in started]
    return {"latency": ms(latency), "create_with_webhook": ms(calls), "create_baseline": ms(baseline_calls),
            "stored_when_call_returned": at_return, "annotations": len(tasks)}


def measure_poll(link: Any, ls: Any, tasks: list[int]) -> dict[str, Any]:
    from django.db import connection

    from activelearning.labelstudio.models import LabelStudioLink
    from activelearning.labelstudio.services import sync

    fresh = LabelStudioLink.objects.select_related("project", "agent").get(pk=link.pk)
    t0 = time.perf_counter()
    first = sync(fresh, force=True)
    catch_up_s = time.perf_counter() - t0
    rounds: list[tuple[float, float, int]] = []
    stop, failed = threading.Event(), []

    def loop() -> None:
        try:
            while not stop.is_set():
                began = time.perf_counter()
                outcome = sync(fresh, force=True)
                rounds.append((began, time.perf_counter() - began, outcome.get("received", 0)))
        except Exception as exc:  # reported by the main thread
            failed.append(exc)
        finally:
            connection.close()

    syncer = threading.Thread(target=loop, name="sync-loop", daemon=True)
    started: dict[int, float] = {}
    calls = []
    syncer.start()
    try:
        for n, task in enumerate(tasks):
            wall, t0 = time.time(), time.perf_counter()
            annotation = ls.annotations.create(id=task, result=box_result(n), lead_time=3.0)
            calls.append(time.perf_counter() - t0)
            started[annotation.id] = wall
        stored = stored_at(link.pk, list(started), len(started))
    finally:
        stop.set()
        syncer.join(timeout=WAIT_S)
    if failed:
        raise BenchFailure(f"the sync loop failed: {failed[0]!r}")
    latency = [stored[a] - started[a] for a in started]
    durations = [d for _, d, _ in rounds]
    return {"latency": ms(latency), "round": ms(durations), "rounds": len(rounds),
            "rounds_receiving": sum(1 for *_, r in rounds if r), "create_alone": ms(calls),
            "catch_up_round_s": catch_up_s, "catch_up_received": first.get("received", 0),
            "annotations": len(tasks)}


def profile_push(link: Any, admin: Any, items: int, out: Path) -> str:
    from activelearning.labelstudio.services import Selection, push

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    outcome = push(link=link, selection=Selection(limit=items), actor=admin)
    profiler.disable()
    took = time.perf_counter() - started
    profiler.dump_stats(out)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    text.write(f"push of {outcome['pushed']:,} items under cProfile: {took:.2f} s ({out.relative_to(ROOT)})\n")
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(20)
    return text.getvalue()


# --- the run ------------------------------------------------------------------------------------------------

def label_studio_server(args: argparse.Namespace, scratch: Path) -> Any:
    """The Label Studio to use: one started here (a copy of the migrated data folder), or one already running
    (`--label-studio-url`: the test session's, so `make test` pays for no second start)."""
    from tests.labelstudio_server import LS_EMAIL, LabelStudioServer, start_label_studio

    if args.label_studio_url:
        return contextlib.nullcontext(LabelStudioServer(url=args.label_studio_url.rstrip("/"),
                                                        token=args.label_studio_token, email=LS_EMAIL))
    return start_label_studio(ls_data_dir(scratch))


def run(args: argparse.Namespace) -> dict[str, Any]:

    recreate_database(args.db)
    media = Path(args.media)
    media.mkdir(parents=True, exist_ok=True)
    env = loupe_env(args.db, media)
    servers: list[Server] = []
    port = args.port or free_ports()
    log_dir = ROOT / "bench" / "results" / ("smoke" if args.smoke else "")
    log_dir.mkdir(parents=True, exist_ok=True)
    # Loupe's server starts while this process seeds; it reads the rows only when Label Studio calls it.
    start_server(uvicorn_argv(port), port, env, log_dir / "labelstudio-loupe.log", servers)
    results: dict[str, Any] = {}
    try:
        django_setup(env)
        from django.conf import settings

        from activelearning.labelstudio.services import LinkSettings, link_project

        project, admin = seed(args.items + args.profile_items, args.boxes)
        with tempfile.TemporaryDirectory(prefix="bench-labelstudio-") as tmp:
            t0 = time.perf_counter()
            with label_studio_server(args, Path(tmp)) as label_studio:
                how = "already running" if args.label_studio_url else f"up in {time.perf_counter() - t0:.1f} s"
                print(f"Label Studio {ls_version()} at {label_studio.url}: {how}", flush=True)
                wait_healthy(servers[0])
                loupe_url = f"http://127.0.0.1:{port}"
                assert "127.0.0.1" in settings.LOUPE_OUTBOUND_ALLOWED_HOSTS
                link = link_project(project=project, user=admin, wanted=LinkSettings(
                    url=label_studio.url, token=label_studio.token, loupe_url=loupe_url, webhooks_enabled=True))
                if link.ls_webhook_id is None:
                    raise BenchFailure(f"the webhook was not registered: {link.last_error}")
                ls = label_studio.client()

                results["push"], baseline_ids = measure_push(link, admin, args.items, ls, label_studio.url,
                                                             label_studio.token)
                p = results["push"]
                print(f"push {args.items:,} tasks: Loupe {p['loupe_tasks_per_s']:,.1f} tasks/s ({p['loupe_s']:.2f} s, "
                      f"push service end to end); Label Studio import {p['ls_import_tasks_per_s']:,.1f} tasks/s "
                      f"({p['ls_import_s']:.2f} s, one POST of the same {p['body_mb']:.1f} MB of task JSON); "
                      f"Loupe/LS {p['loupe_over_ls']:.3f}×", flush=True)
                print(f"  Label Studio import in Loupe's batches of {LS_BATCH:,}: "
                      f"{p['ls_batched_tasks_per_s']:,.1f} tasks/s ({p['ls_batched_s']:.2f} s); "
                      f"Loupe/that {p['loupe_over_ls_batched']:.3f}×", flush=True)

                from activelearning.labelstudio.models import LabelStudioTask

                task_ids = list(LabelStudioTask.objects.filter(link=link).order_by("pk")
                                .values_list("ls_task_id", flat=True))
                m = args.annotations
                if len(task_ids) < 2 * m or len(baseline_ids) < m:
                    raise BenchFailure(f"{2 * m} annotations need at least {2 * m} pushed items (--items)")

                results["webhook"] = w = measure_webhook(link, ls, task_ids[:m], baseline_ids[:m])
                print(f"webhook: latency p50 {w['latency']['p50_ms']:.1f} ms p99 {w['latency']['p99_ms']:.1f} ms "
                      f"({m} annotations, LS create call start → Loupe version stored; stored when LS's call "
                      f"returned: {w['stored_when_call_returned']}/{m}); LS create with the webhook p50 "
                      f"{w['create_with_webhook']['p50_ms']:.1f} ms p99 {w['create_with_webhook']['p99_ms']:.1f} ms; "
                      f"baseline create p50 {w['create_baseline']['p50_ms']:.1f} ms p99 "
                      f"{w['create_baseline']['p99_ms']:.1f} ms; latency/create p50 "
                      f"{w['latency']['p50_ms'] / w['create_baseline']['p50_ms']:.2f}× p99 "
                      f"{w['latency']['p99_ms'] / w['create_baseline']['p99_ms']:.2f}×", flush=True)

                link = link_project(project=project, user=admin, wanted=LinkSettings(
                    url=label_studio.url, token=label_studio.token, loupe_url=loupe_url,
                    ls_project_id=link.ls_project_id, webhooks_enabled=False))
                if link.ls_webhook_id is not None or ls.webhooks.list(project=link.ls_project_id):
                    raise BenchFailure("the webhook is still registered after saving the link with webhooks off")
                results["poll"] = q = measure_poll(link, ls, task_ids[m:2 * m])
                print(f"poll: latency p50 {q['latency']['p50_ms']:.1f} ms p99 {q['latency']['p99_ms']:.1f} ms; "
                      f"sync round p50 {q['round']['p50_ms']:.1f} ms p99 {q['round']['p99_ms']:.1f} ms "
                      f"({q['rounds']} rounds back to back, {q['rounds_receiving']} receiving; the catch-up round "
                      f"before took {q['catch_up_round_s']:.2f} s); LS create alone p50 "
                      f"{q['create_alone']['p50_ms']:.1f} ms p99 {q['create_alone']['p99_ms']:.1f} ms; latency/create "
                      f"p50 {q['latency']['p50_ms'] / q['create_alone']['p50_ms']:.2f}× p99 "
                      f"{q['latency']['p99_ms'] / q['create_alone']['p99_ms']:.2f}×", flush=True)

                if args.profile_items:
                    out = results_path("labelstudio", args.stamp, args.smoke).with_suffix(".prof")
                    report = profile_push(link, admin, args.profile_items, out)
                    results["profile"] = str(out.relative_to(ROOT))
                    print(report, flush=True)
        for server in servers:
            if server.proc.poll() is not None:
                raise BenchFailure(f"Loupe's server exited during the run:\n{tail(server.log)}")
    finally:
        stop_servers(servers)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000, help="items pushed in the timed push (≤ 20,000)")
    parser.add_argument("--annotations", type=int, default=200, help="annotations per latency phase")
    parser.add_argument("--boxes", type=int, default=3, help="pre-label boxes per item")
    parser.add_argument("--db", default=os.environ.get("BENCH_LABELSTUDIO_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--media", default=str(ROOT / "var" / "bench-labelstudio" / "media"))
    parser.add_argument("--port", type=int, default=0, help="Loupe's port (default: a free one)")
    parser.add_argument("--label-studio-url", help="use this running Label Studio (SSRF protection off, as "
                        "tests/labelstudio_server.py starts it) instead of starting one")
    parser.add_argument("--label-studio-token", default="", help="its API token (legacy token auth)")
    parser.add_argument("--profile", action="store_true", help="push --profile-items more under cProfile at the end")
    parser.add_argument("--profile-items", type=int, default=None)
    args = parse_args_with_smoke(parser, argv, lambda: {
        "items": 50, "annotations": 10, "db": smoke_database_url("labelstudio"),
        "media": str(ROOT / "var" / "bench-labelstudio" / "smoke-media")})
    args.profile_items = (args.profile_items if args.profile_items is not None else args.items) if args.profile \
        else 0
    args.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    load_before = os.getloadavg()
    started = time.perf_counter()
    results = run(args)
    out = results_path("labelstudio", args.stamp, args.smoke)
    out.write_text(json.dumps({
        "bench": "labelstudio", "utc": args.stamp, "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "activelearning", "bench")),
        "items": args.items, "annotations": args.annotations, "boxes": args.boxes, "label_studio": ls_version(),
        "cpus": os.cpu_count(), "machine": platform.platform(), "load_before": load_before,
        "load_after": os.getloadavg(), "seconds": time.perf_counter() - started, "results": results}, indent=2))
    print(f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; {os.cpu_count()} CPUs; "
          f"{time.perf_counter() - started:.0f} s in all")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
