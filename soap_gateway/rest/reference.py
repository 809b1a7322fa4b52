"""The interactive API reference at /api/docs/: Swagger UI served by the gateway itself.

The gateway often runs without internet, so nothing comes from a CDN: the
page's scripts and styles are the files of the ``swagger-ui-py`` package
(Swagger UI 5, which reads OpenAPI 3.1), read once at start-up.
"""

from __future__ import annotations

from importlib import resources

PATH = "/api/docs"
_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_PAGE = """<!DOCTYPE html>
<html lang="ru">
<head>
<meta charset="utf-8">
<title>BillingGateway REST API</title>
<link rel="stylesheet" href="{docs}/swagger-ui.css">
<link rel="icon" type="image/png" href="{docs}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{docs}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui", deepLinking: true,
  defaultModelsExpandDepth: 0, docExpansion: "list", validatorUrl: null}});
</script>
</body>
</html>
"""


class Pages:
    """The page and its assets by path; built once."""

    def __init__(self, spec_path: str) -> None:
        static = resources.files("swagger_ui") / "static"
        self.pages: dict[str, tuple[str, bytes]] = {
            f"{PATH}/{name}": (content_type, (static / name).read_bytes()) for name, content_type in _ASSETS.items()}
        page = _PAGE.format(docs=PATH, spec=spec_path).encode("utf-8")
        self.pages[PATH] = self.pages[f"{PATH}/"] = ("text/html; charset=utf-8", page)

    def get(self, path: str) -> tuple[str, bytes] | None:
        return self.pages.get(path)
