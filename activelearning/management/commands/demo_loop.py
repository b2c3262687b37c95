"""`python manage.py demo_loop`: the whole review → retrain → promote → over-the-air loop on synthetic data
(activelearning/demo/loop.py). Needs the `train` extra (torch) for the reference trainer."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from activelearning.demo.loop import LoopConfig, LoopFailed, run_loop


class Command(BaseCommand):
    help = ("Run the loop on synthetic data: hard field frames through the device API, an oracle annotating "
            "through the people API, the threshold, a dataset version, a reference training, the gate, "
            "promotion, and the device picking the model up. Prints before/after metrics per slice.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        defaults = LoopConfig()
        parser.add_argument("--field-frames", type=int, default=defaults.field_frames)
        parser.add_argument("--threshold", type=int, default=defaults.threshold)
        parser.add_argument("--epochs", type=int, default=defaults.epochs)
        parser.add_argument("--eval-frames", type=int, default=defaults.eval_frames)
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument("--approve", choices=["if_better", "always"], default=defaults.approve)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["threshold"] > options["field_frames"]:
            raise CommandError("--threshold must not exceed --field-frames (the oracle can only accept those).")
        config = LoopConfig(field_frames=options["field_frames"], threshold=options["threshold"],
                            epochs=options["epochs"], eval_frames=options["eval_frames"], seed=options["seed"],
                            approve=options["approve"])
        started = time.monotonic()
        try:
            report = run_loop(config, say=lambda line: self.stdout.write(line))
        except LoopFailed as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"loop done in {(time.monotonic() - started) / 60:.1f} min: "
                          f"{'promoted' if report.promoted else 'not promoted'}")
