"""The base form: Flask-WTF CSRF, whitespace stripping, and mapping of service errors onto fields."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import Field, IntegerField, PasswordField, StringField, TextAreaField

from portal.security import csrf_token


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


# Larger integers than any field means: WTForms' NumberRange calls math.isnan() on them, which raises
# OverflowError (a 500) past ~1e308, and a database integer column cannot hold them anyway.
INTEGER_LIMIT = 2**53


def _bounded_int(value: Any) -> Any:
    return None if isinstance(value, int) and abs(value) > INTEGER_LIMIT else value


class _PortalFormCSRF(FlaskForm.Meta.csrf_class):  # type: ignore[name-defined,misc]
    """Flask-WTF's CSRF field, with the session's token from ``portal.security.csrf_token`` (signed once
    per few minutes per session, not once per request). Checking a token sent back is unchanged."""

    def generate_csrf_token(self, csrf_token_field: Any) -> str:
        # A form with a secret or field name of its own (none has one) keeps Flask-WTF's way.
        if self.meta.csrf_field_name == "csrf_token" and self.meta.csrf_secret == current_app.config.get(
                "WTF_CSRF_SECRET_KEY", current_app.secret_key):
            return csrf_token()
        return str(super().generate_csrf_token(csrf_token_field))


class PortalForm(FlaskForm):
    """Every portal form derives from this one."""

    class Meta:
        csrf_class = _PortalFormCSRF

        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Field:
            # Leading/trailing spaces are never meaningful in our text inputs; passwords keep theirs.
            field_class = unbound_field.field_class
            if issubclass(field_class, (StringField, TextAreaField)) and not issubclass(field_class, PasswordField):
                options["filters"] = [*options.get("filters", ()), _strip]
            if issubclass(field_class, IntegerField):
                options["filters"] = [*options.get("filters", ()), _bounded_int]
            return unbound_field.bind(form=form, **options)

    def add_error(self, field_name: str | None, message: str) -> None:
        """Attach a service's message to a field, or to the form when no field matches."""
        field = getattr(self, field_name, None) if field_name else None
        if isinstance(field, Field):
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
        else:
            self.form_errors.append(message)

    @property
    def has_errors(self) -> bool:
        return bool(self.form_errors) or any(field.errors for field in self)
