"""The OpenAPI schema and the browsable docs, with nothing from the internet."""

from __future__ import annotations

import json
import re
from typing import Any

from django.test import Client

FIXED = [
    ("get", "/api/v1/experiments/"),
    ("post", "/api/v1/experiments/"),
    ("get", "/api/v1/experiments/{experiment_id}/"),
    ("post", "/api/v1/experiments/{experiment_id}/cancel/"),
    ("get", "/api/v1/models/"),
    ("get", "/api/v1/models/{name}/versions/"),
    ("post", "/api/v1/models/{name}/stages/{stage}/predict"),
    ("post", "/api/v1/models/{name}/versions/{version}/predict"),
]


def test_it_serves_the_openapi_3_schema_to_anyone(client: Client, db: Any) -> None:
    response = client.get("/api/v1/schema/")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for method, path in FIXED:
        assert method in schema["paths"][path], (method, path)
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "SessionCookie"}
    assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"


def test_it_documents_the_error_shape_on_every_operation(client: Client, db: Any) -> None:
    schema = client.get("/api/v1/schema/").json()

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "401", "403"):
                error = operation["responses"][status]["content"]["application/json"]
                assert error["schema"] == {"$ref": "#/components/schemas/ErrorOut"}, (
                    method,
                    path,
                )
            assert operation["security"] == [{"BearerToken": []}, {"SessionCookie": []}]


def test_it_serves_the_docs_page_from_local_assets_only(client: Client, viewer: Any) -> None:
    client.force_login(viewer)

    response = client.get("/api/v1/docs")

    html = response.content.decode()
    assert response.status_code == 200
    assert re.findall(r"https?://", html) == []
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/ninja/swagger-ui-bundle.js" in assets
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert client.get(asset).status_code == 200, asset
    settings_json = re.search(
        r'<script type="application/json" id="swagger-settings">(.*?)</script>', html, re.S
    )
    assert settings_json is not None
    swagger = json.loads(settings_json.group(1))
    assert swagger["url"] == "/api/v1/schema/"
    assert swagger["validatorUrl"] is None  # no badge fetched from swagger.io


def test_it_sends_anonymous_visitors_of_the_docs_to_the_login_page(client: Client, db: Any) -> None:
    response = client.get("/api/v1/docs")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/api/v1/docs"
