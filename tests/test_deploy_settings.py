"""Production settings come from the environment: with DEBUG off and the
HTTPS settings on, ``manage.py check --deploy`` has nothing to warn about; the
Content-Security-Policy is on everywhere."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k3Jv9-q0ZxP2mWn7tRb5sYc8dFg4hLj6aUe1oIiQ_wErTyUoPaSdFgHjKlZxCvBnM",
    "DJANGO_ALLOWED_HOSTS": "console.example.com",
    "DJANGO_SECURE_COOKIES": "true",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
}


def _check_deploy(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environ.update(RETRY_ADMIN_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    environ.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_check_deploy_with_production_settings(tmp_path):
    result = _check_deploy(tmp_path, PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "unset",
    [
        "DJANGO_SECURE_COOKIES",
        "DJANGO_SECURE_SSL_REDIRECT",
        "DJANGO_SECURE_HSTS_SECONDS",
        "DJANGO_SECURE_HSTS_PRELOAD",
    ],
)
def test_each_https_setting_is_what_silences_its_warning(tmp_path, unset):
    env = {k: v for k, v in PRODUCTION.items() if k != unset}
    result = _check_deploy(tmp_path, env)
    assert result.returncode != 0
    assert "security.W0" in result.stderr


def test_the_proxy_ssl_header_is_read_as_django_expects(tmp_path):
    code = (
        "import django; django.setup()\n"
        "from django.conf import settings as s\n"
        "print(s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    environ = {**os.environ, **PRODUCTION, "RETRY_ADMIN_VAR_DIR": str(tmp_path)}
    environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True
    )
    assert result.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https') True True", result.stderr


@pytest.mark.django_db
def test_every_page_carries_a_content_security_policy(client):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
