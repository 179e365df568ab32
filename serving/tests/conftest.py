from __future__ import annotations

from registry.tests.conftest import (  # noqa: F401 - fixtures shared with the registry's tests
    production_version,
    registered,
    trained,
)
