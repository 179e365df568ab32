"""System-check tags for management commands that serve no URLs."""

from __future__ import annotations

from django.core.checks import Tags

# The URL checks import every view and the API (django-ninja, pydantic, and
# through them pandas and numpy): 0.6-0.8 s of start-up that no command of
# the platform needs, since none serves a URL. Every command of the platform
# but `demo` (a new user's first run, which checks everything) derives from
# mlplatform.cli.PlatformCommand and runs every other check;
# `manage.py check`, `runserver` and the test suite still check the URLs.
# (The views no longer import scikit-learn or skops; the engine and the
# artifact format load them when a model is trained, loaded or scored.)
CHECKS_WITHOUT_URLS = [
    getattr(Tags, name) for name in vars(Tags) if not name.startswith("_") and name != "urls"
]
