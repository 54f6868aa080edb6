"""Strict readers for environment variables.

A malformed value stops start-up with ``ImproperlyConfigured`` naming the
variable: a typo in production must never silently become a default.
"""

import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured, ValidationError
from dotenv import dotenv_values
from dotenv.parser import parse_stream

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


ENV_FILE_VARIABLE = "RETRY_ADMIN_ENV_FILE"


def load_env_file(default: Path) -> Path | None:
    """Fill in the environment from a ``.env`` file (python-dotenv's syntax:
    ``KEY=value``, ``export``, quotes, ``#`` comments): the file named by
    ``RETRY_ADMIN_ENV_FILE``, else ``default`` if it exists. A variable the
    real environment sets, even to blank, wins over the file. A named file
    that is missing or a line that does not parse stops start-up. Returns the
    file read, if any."""
    named = _raw(ENV_FILE_VARIABLE)
    path = Path(named) if named else default
    if not path.is_file():
        if named:
            raise ImproperlyConfigured(f"{ENV_FILE_VARIABLE} names {named!r}: no such file")
        return None
    try:
        with path.open(encoding="utf-8") as stream:
            bad = [binding.original.line for binding in parse_stream(stream) if binding.error]
        values = dotenv_values(path, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(f"The settings file {path} cannot be read: {exc}") from None
    if bad:
        lines = ", ".join(str(line) for line in bad[:5])
        raise ImproperlyConfigured(f"The settings file {path} has lines that do not parse: {lines}")
    for name, value in values.items():
        if value is not None and name not in os.environ:
            os.environ[name] = value
    return path


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None
    _check_range(name, number, minimum, maximum)
    return number


def env_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):  # float() reads "nan" and "inf", which no setting means
        raise ImproperlyConfigured(f"{name} must be a finite number, not {value!r}")
    _check_range(name, number, minimum, maximum)
    return number


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    value = env_str(name, default)
    allowed = sorted(choices)
    if value not in allowed:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def env_match(name: str, default: str, pattern: str, *, expected: str, secret: bool = False) -> str:
    """A string that must match ``pattern`` in full (``expected`` says what
    in words); empty when unset and the default is empty. A ``secret``
    value is never echoed in the refusal."""
    value = env_str(name, default)
    if value and not re.fullmatch(pattern, value):
        shown = "" if secret else f", not {value!r}"
        raise ImproperlyConfigured(f"{name} must be {expected}{shown}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


_HOST = re.compile(r"\*|\.?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\]", re.IGNORECASE)


def env_hosts(name: str, default: list[str]) -> list[str]:
    """Host names as Django's ALLOWED_HOSTS reads them. Unlike other variables,
    set-but-blank is refused: it is nearly always an unset shell variable, and
    every request would then be refused with 400."""
    if name not in os.environ:
        return default
    hosts = [item.strip() for item in os.environ[name].split(",") if item.strip()]
    if not hosts:
        raise ImproperlyConfigured(
            f"{name} is set but names no host: list the host names the console is served "
            "at (comma-separated), or unset it for the local default"
        )
    for host in hosts:
        if not _HOST.fullmatch(host):
            raise ImproperlyConfigured(
                f"{name} must list host names without scheme, port or path "
                f"(console.example.com, .example.com, *), not {host!r}"
            )
    return hosts


def env_header(name: str) -> tuple[str, str] | None:
    """``Header-Name: value`` as Django's META key and value, e.g.
    ``X-Forwarded-Proto: https`` -> ``("HTTP_X_FORWARDED_PROTO", "https")``."""
    value = _raw(name)
    if value is None:
        return None
    header, _, expected = (part.strip() for part in value.partition(":"))
    if not re.fullmatch(r"[A-Za-z0-9-]+", header) or not expected:
        raise ImproperlyConfigured(
            f"{name} must be 'Header-Name: value' (e.g. 'X-Forwarded-Proto: https'), not {value!r}"
        )
    return "HTTP_" + header.upper().replace("-", "_"), expected


def env_url(name: str, *, schemes: Iterable[str], path_schemes: Iterable[str] = ()) -> str:
    """A URL with one of ``schemes`` and a host (or, for ``path_schemes`` such
    as ``unix``, a path), and a valid port; empty when unset. A refusal never
    echoes a password the URL may hold."""
    value = env_str(name)
    if not value:
        return ""
    allowed = sorted({*schemes, *path_schemes})
    shown = url_without_password(value)
    expected = " or ".join(f"{scheme}://" for scheme in allowed)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a {expected} URL, not {shown!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in allowed or re.search(r"\s", value):
        raise ImproperlyConfigured(f"{name} must be a {expected} URL, not {shown!r}")
    if scheme in path_schemes:
        if not parts.path.strip("/"):
            raise ImproperlyConfigured(f"{name} needs a socket path after {scheme}://")
    elif not parts.hostname:
        raise ImproperlyConfigured(f"{name} must name a host, not {shown!r}")
    elif port == 0:
        raise ImproperlyConfigured(f"{name} has port 0: {shown!r}")
    return value


def env_emails(name: str) -> list[str]:
    """Comma-separated e-mail addresses, each checked; empty when unset."""
    from django.core.validators import validate_email

    addresses = env_list(name, [])
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ImproperlyConfigured(
                f"{name} must list e-mail addresses (comma-separated), not {address!r}"
            ) from None
    return addresses


def url_without_password(url: str) -> str:
    return re.sub(r"(//[^/@\s]*?:)[^/@\s]*@", r"\1***@", url)


def _check_range(name: str, number: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {number}")
