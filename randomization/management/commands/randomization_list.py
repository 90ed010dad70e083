from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from randomization import blocks


class Command(BaseCommand):
    help = (
        "Print a permuted-block randomization list as CSV (sequence,block,block_size,arm) "
        "for the statistician to inspect. Stores nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=None, help="Default: a new secure seed")
        parser.add_argument("--length", type=int, required=True)
        parser.add_argument("--ratio", default="2:1")
        parser.add_argument("--block-sizes", default="3,6")
        parser.add_argument("--arms", default="low,high")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ratio = blocks.parse_ratio(options["ratio"])
            block_sizes = blocks.parse_block_sizes(options["block_sizes"])
            arms = tuple(a.strip() for a in options["arms"].split(","))
            seed = options["seed"] if options["seed"] is not None else blocks.new_seed()
            slots = blocks.generate_list(
                seed=seed,
                length=options["length"],
                ratio=ratio,
                block_sizes=block_sizes,
                arms=arms,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["seed"] is None:
            sys.stderr.write(f"seed: {seed}\n")
        self.stdout.write(blocks.to_csv(slots), ending="")
