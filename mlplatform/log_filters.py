"""Logging filters named in settings.LOGGING."""

from __future__ import annotations

import logging


class PermissionDeniedWithoutTraceback(logging.Filter):
    """Django logs every refused request (403) on django.request with the
    PermissionDenied exception attached, so the server log printed a
    traceback for each user who clicked something their role does not
    allow. A refusal is not a fault: keep the one-line warning, drop the
    traceback. Server errors (500) keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
