"""Production settings refuse to start without the values that protect data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FERNET_KEY = "dGVzdC1vbmx5LWtleS0wMDAwMDAwMDAwMDAwMDAwMDA="


# Variables the test settings put into this process's environment; subprocesses start clean.
TEST_ONLY_VARIABLES = {
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "DEBUG",
    "DATABASE_URL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests while Playwright runs
    "SECURE_SSL_REDIRECT",
    "OAUTH_PROVIDER_ALLOW_HTTP_REDIRECTS",
    "ALLOWED_HOSTS",
    "DJANGO_SETTINGS_MODULE",
}


def production_environment(**env) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in TEST_ONLY_VARIABLES}
    clean.update(env)
    return clean


def import_settings(**env):
    clean = production_environment(**env)
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_secret_key_fails_clearly():
    result = import_settings(DEBUG="false", FIELD_ENCRYPTION_KEYS=FERNET_KEY)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_missing_encryption_keys_fail_clearly():
    result = import_settings(DEBUG="false", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set" in result.stderr


def test_debug_runs_with_defaults():
    assert import_settings(DEBUG="true").returncode == 0


def test_bad_boolean_is_reported():
    result = import_settings(DEBUG="maybe")
    assert "DEBUG must be true or false" in result.stderr


@pytest.mark.django_db
def test_check_deploy_is_clean_with_production_values():
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "k3-q8Zr!x7Lm@p2Vn#w5Ty&u9Ab$c4De%f6Gh^j1Kl*0oP(i)uY_tR+eW=qA",
        "FIELD_ENCRYPTION_KEYS": FERNET_KEY,
        "ALLOWED_HOSTS": "actions.example.com",
        "SECURE_HSTS_PRELOAD": "true",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    clean = production_environment(**env)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_rotating_keys_keeps_old_values_readable(settings):
    from cryptography.fernet import Fernet

    from kernel import encryption

    old_key = FERNET_KEY
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    stored = encryption.encrypt("sk-rotate-me")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    assert encryption.decrypt(stored) == "sk-rotate-me"
    rotated = encryption.rotate(stored)
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert encryption.decrypt(rotated) == "sk-rotate-me"
    with pytest.raises(ValueError, match="cannot be read"):
        encryption.decrypt(stored)
