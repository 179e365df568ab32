from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError, CommandParser

from mlplatform.cli import PlatformCommand, command_user, identity_arguments
from mlplatform.origin import Channel, Origin
from registry.models import GatePolicy, RegisteredModel
from registry.selectors import gate_policy_as_dict, gate_policy_history


class Command(PlatformCommand):
    help = (
        "Show a registered model's gate policy and its history, or (with --set) record a "
        "new version of it. Setting needs the registry.change_gatepolicy permission."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model")
        parser.add_argument("--set", dest="policy_file", help="A YAML (or JSON) policy file.")
        identity_arguments(parser, acting="who sets it, holding registry.change_gatepolicy")
        parser.add_argument("--reason", default="", help="Why; recorded with the change.")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["policy_file"]:
            self.set_policy(options)
        try:
            history = gate_policy_history(model_name=options["model"])
        except RegisteredModel.DoesNotExist:
            raise CommandError(f"no model named {options['model']!r}") from None
        if not history:
            raise CommandError(
                f"{options['model']} has no gate policy yet; it gets the project default "
                "when it is first gated"
            )
        if options["json"]:
            payload = {
                "current": gate_policy_as_dict(history[0]),
                "history": [gate_policy_as_dict(policy) for policy in history],
            }
            self.stdout.write(json.dumps(payload, indent=2))
        else:
            self.print_policy(history)

    def set_policy(self, options: dict[str, Any]) -> None:
        from registry.services import gate_policy_set

        user = command_user(options)
        path = Path(options["policy_file"])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read policy file {path}: {error}") from None
        try:
            policy = gate_policy_set(
                model_name=options["model"],
                text=text,
                user=user,
                reason=options["reason"],
                origin=Origin.cli(),
            )
        except ValidationError as error:
            raise CommandError(f"policy {path}: " + "; ".join(error.messages)) from None
        except PermissionDenied as error:
            raise CommandError(str(error)) from None
        if not options["json"]:
            self.stdout.write(f"recorded {policy}")

    def print_policy(self, history: list[GatePolicy]) -> None:
        current = history[0]
        self.stdout.write(f"{current} (current)")
        self.stdout.write(yaml.safe_dump(current.policy, sort_keys=False).rstrip())
        self.stdout.write("\nhistory:")
        for policy in history:
            entry = gate_policy_as_dict(policy)
            where = Origin(Channel(policy.channel), policy.os_user, policy.host).label
            self.stdout.write(
                f"  v{policy.version:<3} {policy.created_at:%Y-%m-%d %H:%M} by {entry['set_by']} "
                f"via {where}: {policy.reason}"
            )
