"""Message templates."""

from typing import NamedTuple

from retry_admin.models import Template, render_template


def template_create(*, name: str, body: str) -> Template:
    """Create a template; raises ``ValidationError`` (keyed by field) for a
    missing or taken name or a malformed placeholder."""
    template = Template(name=name.strip(), body=body)
    template.full_clean()
    template.save()
    return template


class Rendered(NamedTuple):
    """A template filled in for one recipient, or why it could not be (a
    tuple: the sender makes one per message)."""

    body: str = ""
    missing: str = ""  # a placeholder the recipient has no value for
    unreadable: bool = False  # the context is not a set of column values

    @property
    def problem(self) -> str:
        if self.missing:
            return f"Template placeholder {self.missing!r} has no value for this recipient"
        if self.unreadable:
            return "This message's context is not a set of column values"
        return ""


def template_render(*, body: str, context: object, recipient: str) -> Rendered:
    """``body`` filled from ``context`` (and ``recipient``); a placeholder without
    a value or a context that is not an object is reported, never raised."""
    try:
        return Rendered(body=render_template(body, context or {}, recipient))
    except KeyError as exc:
        return Rendered(missing=exc.args[0])
    except (TypeError, AttributeError):
        return Rendered(unreadable=True)
