"""``/docs``: Swagger UI served by Consentry itself, so that it renders offline and the page
makes no third-party request.

FastAPI's own page loads Swagger UI from a CDN (a blank page without the network) and starts it
with an inline script. Here every file comes from the ``swagger-ui-bundle-v2`` package or from
this package (``docs_assets/``), and the page is started by a script file, so that the
Content-Security-Policy can refuse inline scripts and every other origin.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"

# Swagger UI writes its icons as data: URLs into its stylesheet and sets styles from script
# (which CSP does not govern); nothing else leaves 'self'.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_SWAGGER = Path(str(swagger_ui_path))
_OWN = Path(__file__).with_name("docs_assets")
#: What the page may load, by the name it is served under: nothing else of the bundle is served
#: (its sample ``index.html`` would start Swagger UI on a third party's spec).
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (_SWAGGER / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (_SWAGGER / "swagger-ui.css", "text/css"),
    "favicon-32x32.png": (_SWAGGER / "favicon-32x32.png", "image/png"),
    "swagger-init.js": (_OWN / "swagger-init.js", "text/javascript"),
    "swagger-a11y.css": (_OWN / "swagger-a11y.css", "text/css"),
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – API documentation</title>
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="stylesheet" href="{assets}/swagger-a11y.css">
</head>
<body>
<main id="swagger-ui" data-openapi-url="{openapi_url}"></main>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve the page at ``/docs`` and its files under ``/docs/assets/`` (the app must be made
    with ``docs_url=None``, so that FastAPI's CDN page is not served instead)."""
    if app.openapi_url is None:
        return
    page = _PAGE.format(
        title=html.escape(app.title),
        assets=ASSETS_PATH,
        openapi_url=html.escape(app.openapi_url),
    )
    router = APIRouter(include_in_schema=False)

    @router.get(DOCS_PATH)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=SECURITY_HEADERS)

    @router.get(f"{ASSETS_PATH}/{{name}}")
    def asset(name: str) -> FileResponse:
        found = ASSETS.get(name)
        if found is None:
            raise HTTPException(404, f"no documentation asset {name!r}")
        path, media_type = found
        return FileResponse(path, media_type=media_type, headers=SECURITY_HEADERS)

    app.include_router(router)
