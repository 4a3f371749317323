"""The model settings: the sandbox demo model by default in development, nothing in production
unless configured, and the catalogue read from LLM_MODELS."""

import subprocess
import sys

import pytest

from gpts.catalogue import MODELS_BY_KEY, default_model, models_for, provider_model
from gpts.services import gpt_create
from tests.factories import add_member, make_workspace
from tests.test_settings import FERNET_KEY, ROOT, production_environment
from workspaces.models import Role


def llm_base_url(**env) -> str:
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(repr(s.LLM_BASE_URL))"],
        cwd=ROOT,
        env=production_environment(SECRET_KEY="k" * 50, FIELD_ENCRYPTION_KEYS=FERNET_KEY, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_development_defaults_to_the_sandbox_model():
    assert llm_base_url(DEBUG="true", SITE_URL="http://127.0.0.1:8000") == (
        "'http://127.0.0.1:8000/sandbox/llm/v1'"
    )
    assert llm_base_url(DEBUG="true", LLM_BASE_URL="http://127.0.0.1:11434/v1/") == (
        "'http://127.0.0.1:11434/v1'"
    )


def test_production_has_no_model_unless_configured():
    assert llm_base_url(DEBUG="false") == "''"
    assert llm_base_url(DEBUG="false", LLM_BASE_URL="https://api.openai.com/v1") == (
        "'https://api.openai.com/v1'"
    )


def test_catalogue_default_and_from_the_setting(settings):
    settings.LLM_MODELS = ""
    assert MODELS_BY_KEY["gpt-5"].label == "GPT-5" and provider_model("gpt-5") == "gpt-5"
    assert "gpt-5-pro" not in {m.key for m in models_for(has_actions=True)}
    assert default_model() == "gpt-5"
    settings.LLM_MODELS = " local = llama3.1:8b , gpt-4o=gpt-4o-2024-08-06, big-pro=x, ,=y"
    assert list(MODELS_BY_KEY) == ["local", "gpt-4o", "big-pro"]
    assert provider_model("local") == "llama3.1:8b"
    assert MODELS_BY_KEY["gpt-4o"].label == "GPT-4o"  # a known key keeps its label
    assert MODELS_BY_KEY["big-pro"].pro and not MODELS_BY_KEY["big-pro"].supports_actions
    assert [m.key for m in models_for(has_actions=True)] == ["local", "gpt-4o"]
    assert default_model() == "local"


@pytest.mark.django_db
def test_a_new_gpt_gets_a_model_of_the_catalogue(settings):

    settings.LLM_MODELS = "local=llama3.1:8b"
    workspace = make_workspace()
    user = add_member(workspace, role=Role.BUILDER)
    gpt = gpt_create(workspace=workspace, acting_user=user, name="Local")
    assert gpt.model == "local"
