"""System-check tags for management commands that serve no URLs."""

from __future__ import annotations

from django.core.checks import Tags

# The URL checks import every view and the API (django-ninja, pydantic): a
# few tenths of a second of start-up that a command which registers a file or
# trains a model does not need. Such commands run every other check. (The
# views no longer import scikit-learn or skops; the engine and the artifact
# format load them when a model is trained, loaded or scored.)
CHECKS_WITHOUT_URLS = [
    getattr(Tags, name) for name in vars(Tags) if not name.startswith("_") and name != "urls"
]
