"""Request fields: JSON values of the schema's type (no coercion), query
strings given once, lists without repeats, and references resolved to rows
(a template by id or name, a recipient line). Used by ``serializers.py``."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from retry_admin import selectors
from retry_admin.filters import unique
from retry_admin.models import Template

BIGINT_MAX = 2**63 - 1


def _has_nul(value: object) -> bool:
    return isinstance(value, str) and "\x00" in value


class _JSONTyped:
    """DRF coerces: "5" and 5.0 pass as an integer, 0 as false, 12 as text, an
    integer as a UUID. In a JSON body a value must have the schema's type;
    query-string values are text, and stay parsed."""

    json_types: tuple[type, ...] = ()
    json_type_name = ""

    def to_internal_value(self, data):
        from_query = hasattr(getattr(self.root, "initial_data", None), "getlist")
        is_bool = isinstance(data, bool)
        if not from_query and (
            is_bool != (bool in self.json_types) or not isinstance(data, self.json_types)
        ):
            raise serializers.ValidationError(f"Must be {self.json_type_name}.")
        return super().to_internal_value(data)


class CharField(_JSONTyped, serializers.CharField):
    json_types, json_type_name = (str,), "text"


class IntegerField(_JSONTyped, serializers.IntegerField):
    json_types, json_type_name = (int,), "a whole number"


class BooleanField(_JSONTyped, serializers.BooleanField):
    json_types, json_type_name = (bool,), "true or false"


class UUIDField(_JSONTyped, serializers.UUIDField):
    json_types, json_type_name = (str,), "a UUID (text)"


class QuerySerializer(serializers.Serializer):
    """Query-string input. DRF quietly drops an empty number or date and takes
    the last of repeated values; refusing both keeps what the schema promises
    and what the API accepts the same."""

    def to_internal_value(self, data):
        if hasattr(data, "getlist"):
            errors = {}
            for name, field in self.fields.items():
                values = data.getlist(name)
                if len(values) > 1 and not isinstance(field, serializers.ListField):
                    errors[name] = [f"Give {name} once."]
                elif values == [""] and not getattr(field, "allow_blank", False):
                    errors[name] = ["May not be empty."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


@extend_schema_field({"type": "boolean", "enum": [True]})
class TrueField(BooleanField):
    pass


class UniqueListField(serializers.ListField):
    """A list whose repeats are dropped (first seen kept) once it is valid as
    sent (``max_length`` counts what was sent): ids sent twice act once."""

    def run_validation(self, data=serializers.empty):
        return unique(super().run_validation(data))


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX},
            {"type": "string", "minLength": 1, "maxLength": 200},
        ],
        "description": "The template's id (a number) or its name.",
        "example": "Greeting",
    }
)
class TemplateRefField(serializers.Field):
    default_error_messages = {
        "invalid": "Give the template's id (a number) or its name (text).",
        "unknown": "Unknown template {value!r}.",
    }

    def to_internal_value(self, data) -> Template:
        if isinstance(data, bool) or not isinstance(data, int | str) or _has_nul(data):
            self.fail("invalid")
        ref = data.strip() if isinstance(data, str) else data
        if ref == "":
            self.fail("invalid")
        template = selectors.template_find(ref)
        if template is None:
            self.fail("unknown", value=data)
        return template

    def to_representation(self, value):
        return value.pk


@extend_schema_field(
    {
        "type": "object",
        "required": ["recipient"],
        "properties": {
            "recipient": {
                "type": "string",
                "minLength": 1,
                "maxLength": 320,
                "description": "Phone number, address or id the channel delivers to.",
            }
        },
        "additionalProperties": {
            "description": "Template context: text, a number, a boolean or null.",
            "nullable": True,
            "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
        },
        "example": {"recipient": "+447700900001", "name": "Ada"},
    }
)
class RecipientField(serializers.Field):
    """``{"recipient": ..., other keys: template context}`` → ``RecipientRow``.
    Line numbers are 1-based positions in the list, as in the service's errors."""

    default_error_messages = {
        "not_object": (
            'Each recipient must be an object like {{"recipient": "...", "name": "..."}}.'
        ),
        "nul": "Text must not contain NUL characters.",
        "not_text": "recipient must be text.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_object")
        if not isinstance(data.get("recipient", ""), str):
            self.fail("not_text")
        if any(_has_nul(key) or _has_nul(value) for key, value in data.items()):
            self.fail("nul")
        context = {key: value for key, value in data.items() if key != "recipient"}
        return {"recipient": data.get("recipient"), "context": context}
