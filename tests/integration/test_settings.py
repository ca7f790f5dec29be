"""The one settings module switches modes by environment alone.

Each case imports the settings in a fresh interpreter with a controlled environment, because
settings are read once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "options": {k: str(v) for k, v in db.get("OPTIONS", {}).items()},
    "eager": settings.CELERY_TASK_ALWAYS_EAGER, "broker": settings.CELERY_BROKER_URL,
    "debug": settings.DEBUG, "email": settings.EMAIL_BACKEND, "media": str(settings.MEDIA_ROOT),
    "secret_len": len(settings.SECRET_KEY), "secret": settings.SECRET_KEY,
    "hosts": settings.ALLOWED_HOSTS, "hsts": getattr(settings, "SECURE_HSTS_SECONDS", 0),
    "session_secure": getattr(settings, "SESSION_COOKIE_SECURE", False),
    "csrf_secure": getattr(settings, "CSRF_COOKIE_SECURE", False),
    "ssl_redirect": getattr(settings, "SECURE_SSL_REDIRECT", False),
    "acks_late": settings.CELERY_TASK_ACKS_LATE, "prefetch": settings.CELERY_WORKER_PREFETCH_MULTIPLIER,
    "reject_on_worker_lost": settings.CELERY_TASK_REJECT_ON_WORKER_LOST,
}))
"""
LIMS_VARIABLES = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "LIMS_ENV",
    "LIMS_SECRET_KEY",
    "LIMS_ALLOWED_HOSTS",
    "LIMS_DEBUG",
    "LIMS_VAR_DIR",
    "LIMS_MEDIA_ROOT",
)


def embedded_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """This process's environment without any LIMS variable: the embedded mode, its state under
    ``tmp_path / "var"`` (other tests start a fresh installation with it too)."""
    env = {key: value for key, value in os.environ.items() if key not in LIMS_VARIABLES}
    env.update({"DJANGO_SETTINGS_MODULE": "lims.settings", "LIMS_VAR_DIR": str(tmp_path / "var"), **overrides})
    return env


def _settings(tmp_path: Path, **overrides: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=embedded_env(tmp_path, **overrides), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def _failure(tmp_path: Path, **overrides: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=embedded_env(tmp_path, **overrides), capture_output=True, text=True, check=False
    )
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_with_nothing_set_it_runs_embedded(tmp_path: Path) -> None:
    embedded = _settings(tmp_path)
    assert embedded["engine"] == "django.db.backends.sqlite3"
    assert embedded["name"] == str(tmp_path / "var" / "lims.sqlite3")
    assert "journal_mode=WAL" in str(embedded["options"])
    assert embedded["options"]["timeout"] == "20"  # type: ignore[index]
    assert embedded["eager"] is True
    assert embedded["debug"] is True
    assert embedded["email"] == "django.core.mail.backends.console.EmailBackend"
    assert embedded["media"] == str(tmp_path / "var" / "media")
    assert embedded["secret_len"] >= 50  # type: ignore[operator]


def test_the_generated_development_secret_survives_a_restart(tmp_path: Path) -> None:
    first = _settings(tmp_path)["secret"]
    second = _settings(tmp_path)["secret"]
    assert first == second
    assert (tmp_path / "var" / "dev-secret-key").stat().st_mode & 0o077 == 0


def test_database_url_switches_to_postgresql(tmp_path: Path) -> None:
    stack = _settings(tmp_path, DATABASE_URL="postgres://lims:pw@db.internal:5433/limsdb")
    assert stack["engine"] == "django.db.backends.postgresql"
    assert stack["name"] == "limsdb"


def test_broker_url_switches_celery_to_real_workers(tmp_path: Path) -> None:
    stack = _settings(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/3")
    assert stack["eager"] is False
    assert stack["broker"] == "redis://127.0.0.1:6379/3"
    # Tasks survive a killed worker: acknowledged late, re-queued on loss, one at a time.
    assert stack["acks_late"] is True
    assert stack["reject_on_worker_lost"] is True
    assert stack["prefetch"] == 1


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    assert "LIMS_SECRET_KEY" in _failure(tmp_path, LIMS_ENV="production", LIMS_ALLOWED_HOSTS="lims.example.org")


def test_production_refuses_to_start_without_allowed_hosts(tmp_path: Path) -> None:
    assert "LIMS_ALLOWED_HOSTS" in _failure(tmp_path, LIMS_ENV="production", LIMS_SECRET_KEY="x" * 64)


def test_an_unknown_mode_is_refused_by_name(tmp_path: Path) -> None:
    assert "LIMS_ENV='staging'" in _failure(tmp_path, LIMS_ENV="staging")


def test_production_is_hardened(tmp_path: Path) -> None:
    production = _settings(
        tmp_path, LIMS_ENV="production", LIMS_SECRET_KEY="s" * 30 + "e" * 30, LIMS_ALLOWED_HOSTS="lims.example.org, lab.example.org"
    )
    assert production["debug"] is False
    assert production["hosts"] == ["lims.example.org", "lab.example.org"]
    assert production["session_secure"] is True
    assert production["csrf_secure"] is True
    assert production["ssl_redirect"] is True
    assert production["hsts"] >= 31_536_000  # type: ignore[operator]


def test_production_settings_pass_the_deployment_checks_with_no_warning(tmp_path: Path) -> None:
    env = embedded_env(tmp_path, LIMS_ENV="production", LIMS_SECRET_KEY="k3y-" + "abcdefghij" * 6, LIMS_ALLOWED_HOSTS="lims.example.org")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_boolean_setting_that_is_not_a_boolean_is_refused(tmp_path: Path, value: str) -> None:
    assert "LIMS_DEBUG" in _failure(tmp_path, LIMS_DEBUG=value)
