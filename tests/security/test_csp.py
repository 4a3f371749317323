"""Content-Security-Policy on every page (django-csp), and nothing on our pages that it blocks.

An injected `<script>` or `onerror=` in a GPT name would run without a policy; with
`default-src 'self'` and no 'unsafe-inline' it does not, provided our own pages need no inline
code, which is checked here from the templates and from the rendered pages.
"""

import re
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_strict(response):
    directives = policy(response)
    assert directives.get("default-src") == ["'self'"], response.headers
    for name, values in directives.items():
        assert "'unsafe-inline'" not in values and "'unsafe-eval'" not in values, name
    assert "script-src" not in directives or directives["script-src"] == ["'self'"]
    assert directives.get("frame-ancestors") == ["'none'"]
    assert directives.get("object-src") == ["'none'"]


def assert_no_inline_code(html: str, where: str):
    assert not INLINE_SCRIPT.search(html), where
    assert not INLINE_STYLE.search(html), where
    assert not HANDLER.search(html), where


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(ROOT) for p in (ROOT / "templates").rglob("*.html"))
)
def test_no_template_has_inline_script_style_or_handlers(path):
    assert_no_inline_code((ROOT / path).read_text(), str(path))


def test_static_scripts_do_not_write_inline_handlers_or_styles():
    for script in (ROOT / "static").rglob("*.js"):
        text = script.read_text()
        assert not re.search(r"setAttribute\(\s*[\"'](on[a-z]+|style)[\"']", text), script
        assert "eval(" not in text and "new Function" not in text, script


def test_every_kind_of_page_carries_the_policy(world):
    anonymous = Client()
    for path in ("/", "/accounts/login/", "/admin/login/", "/healthz", "/no-such-page/"):
        assert_strict(anonymous.get(path))
    owner = Client()
    owner.force_login(world.a.owner)
    a = world.a
    for path in (
        "/editor/",
        f"/editor/gpts/{a.gpt.pk}/",
        f"/editor/actions/{a.action.pk}/",
        f"/editor/actions/{a.action.pk}/operations/getWeather/test",
        "/me/connections/",
        "/api/v1/workspaces/",
        "/api/v1/docs/",
    ):
        response = owner.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
        if "text/html" in response.headers["Content-Type"]:
            assert_no_inline_code(response.content.decode(), path)


def test_an_injected_script_in_a_gpt_name_is_neither_markup_nor_allowed(world):
    a = world.a
    a.gpt.name = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    a.gpt.save()
    owner = Client()
    owner.force_login(a.owner)
    response = owner.get(f"/editor/gpts/{a.gpt.pk}/")
    html = response.content.decode()
    assert "<script>alert(1)" not in html and 'onerror="alert(2)"' not in html
    assert_strict(response)


def test_swagger_ui_loads_its_start_up_code_as_a_script_file(world):
    owner = Client()
    owner.force_login(world.a.owner)
    page = owner.get("/api/v1/docs/")
    html = page.content.decode()
    sources = re.findall(r'<script src="([^"]+)"', html)
    assert any("swagger-ui-bundle" in src for src in sources)
    start = [src for src in sources if "script" in src and "swagger" not in src.split("?")[0]]
    assert start, sources
    script = owner.get(start[0].replace("&amp;", "&"))
    assert script.status_code == 200
    assert "javascript" in script.headers["Content-Type"]
    assert "SwaggerUIBundle" in script.content.decode()
    for href in re.findall(r'<link rel="stylesheet" href="([^"]+)"', html):
        assert href.startswith("/static/")
