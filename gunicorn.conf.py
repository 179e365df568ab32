"""gunicorn settings for the web process, which serves the UI and the API.

    .venv/bin/gunicorn --config gunicorn.conf.py mlplatform.wsgi

Threaded workers (gthread) keep HTTP connections alive between requests,
so a browser or an API client pays for its TCP connection once. Each worker
is a process with its own copy of every model it serves (see serving/);
its threads share them. Static files are served by WhiteNoise from inside
the app. Every value comes from the environment (README: Configuration).
"""

from __future__ import annotations

import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
# Each thread keeps its database connection for this many seconds (checked
# before reuse), instead of opening one per request as commands do.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
# Processes: about one per core. Threads per process: requests mostly wait
# on the database, so a few threads keep a core busy.
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
# Seconds a request may take before its worker is restarted: a 10,000-row
# predict takes well under one, a large artifact download a few.
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
# Seconds an idle keep-alive connection stays open.
keepalive = int(os.environ.get("WEB_KEEPALIVE", "5"))
# Access log lines on stdout ("-", the default) or in a file; empty for none.
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
errorlog = "-"
# Behind a reverse proxy on another host, name it here so that its
# X-Forwarded-For is trusted.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn would take the scheme from X-Forwarded-Proto, X-Forwarded-Ssl and
# X-Forwarded-Protocol of any client in forwarded_allow_ips (a local curl
# claiming https): none is trusted, unless SECURE_PROXY_SSL_HEADER_TRUSTED says
# the proxy in front terminates https and overwrites X-Forwarded-Proto, which
# alone is then believed (as Django's SECURE_PROXY_SSL_HEADER does).
_proxy_trusted = os.environ.get("SECURE_PROXY_SSL_HEADER_TRUSTED", "").strip().lower() in {
    "1",
    "true",
    "yes",
    "on",
}
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"} if _proxy_trusted else {}


def post_worker_init(worker: object) -> None:
    """Import every view, and the engine and artifact loader that scoring
    uses (pandas, scikit-learn, skops: the views import them only when a
    model is loaded), as the worker starts, so that no user's first request
    waits seconds for them."""
    from django.urls import get_resolver

    import experiments.training  # noqa: F401 - its scikit-learn modules, loaded now
    from experiments import model_format

    get_resolver().url_patterns  # noqa: B018 - loading the URLconf is the point
    model_format.loader_import()
    # A web worker serves requests on its threads: each prediction gets the
    # serving budget of BLAS/OpenMP threads, not every core.
    from django.conf import settings
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=settings.SERVING_THREADS)
