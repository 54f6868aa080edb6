"""Message templates."""

from retry_admin.models import Template


def template_create(*, name: str, body: str) -> Template:
    """Create a template; raises ``ValidationError`` (keyed by field) for a
    missing or taken name or a malformed placeholder."""
    template = Template(name=name.strip(), body=body)
    template.full_clean()
    template.save()
    return template
