#!/usr/bin/env python
"""Django's command-line utility for mlplatform."""

from __future__ import annotations

import gc
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlplatform.settings")
    # Start-up imports Django, pandas and scikit-learn: some 190,000 objects
    # that live as long as the process. Collecting garbage while they load
    # found none and took 0.3-0.4 s of every command's start-up (profiled
    # with bench/train_bench.py), so the collector waits until the command is
    # loaded; freeze() then keeps those objects out of every later collection.
    gc.disable()
    from django.core.management import BaseCommand, ManagementUtility

    class Utility(ManagementUtility):
        def fetch_command(self, subcommand: str) -> BaseCommand:
            command = super().fetch_command(subcommand)
            gc.freeze()
            gc.enable()
            return command

    Utility(sys.argv).execute()


if __name__ == "__main__":
    main()
