"""The one rule every change to saved study data obeys: a changed value needs a reason.

The first entry of a record needs none. Any later change of a saved value must say
why; the reason goes into the audit context, so the trigger stores it in the same
event row as the new value, next to the old value of the previous event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from .context import change_context
from .selectors import field_label

if TYPE_CHECKING:
    from ecrf.accounts.models import User


def changed_values(instance: models.Model, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields whose new value differs from the saved one, as ``{field: (old, new)}``."""
    changes = {}
    for name, new in values.items():
        field = instance._meta.get_field(name)
        old = getattr(instance, getattr(field, "attname", name))
        new_value = new.pk if isinstance(new, models.Model) else new
        if old != new_value:
            changes[name] = (old, new_value)
    return changes


def require_reason(
    changes: dict[str, tuple[Any, Any]], reason: str, model: type[models.Model] | None = None
) -> None:
    """Refuse a change to saved values that comes without a reason, naming the changed
    fields by their labels (those of ``model``) in the reader's language."""
    if changes and not (reason or "").strip():
        raise ValidationError(
            {
                "reason": _(
                    "A reason for change is required when a saved value changes "
                    "(changed: %(fields)s)."
                )
                % {
                    "fields": ", ".join(
                        sorted(str(capfirst(field_label(model, name))) for name in changes)
                    )
                }
            }
        )


def _validate_changed(instance: models.Model, changed: set[str]) -> None:
    """Django's ``full_clean`` of a saved record, its fields' own checks limited to the
    fields that changed (a foreign key's check asks the database whether its row exists,
    which a value saved earlier and kept needs not); its ``clean``, unique checks and
    constraints run whole, as they may tie a changed field to the others, except the
    check of a field unique on its own that did not change."""
    kept = [f.name for f in instance._meta.concrete_fields if f.name not in changed]
    # A field unique on its own that kept its value cannot have become a duplicate.
    together = {name for names in instance._meta.unique_together for name in names}
    kept_unique = [
        f.name
        for f in instance._meta.concrete_fields
        if f.unique and f.name not in changed and f.name not in together
    ]
    errors: dict[str, Any] = {}
    for check in (
        lambda: instance.clean_fields(exclude=kept),
        instance.clean,
        lambda: instance.validate_unique(exclude=kept_unique),
        instance.validate_constraints,
    ):
        try:
            check()
        except ValidationError as error:
            errors = error.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def record_update(
    *,
    instance: models.Model,
    values: dict[str, Any],
    reason: str,
    performed_by: User | None,
    site: str | None,
) -> dict[str, tuple[Any, Any]]:
    """Apply ``values`` to a saved record, audited, after checking the reason rule.

    Returns the changes made (nothing is written when nothing changed). The checks only
    read; the write is one statement, inside the caller's transaction where there is one.
    """
    changes = changed_values(instance, values)
    require_reason(changes, reason, type(instance))
    if not changes:
        return changes
    for name in changes:
        setattr(instance, name, values[name])
    _validate_changed(instance, set(changes))
    with change_context(performed_by=performed_by, reason=reason.strip(), site=site):
        instance.save(update_fields=list(changes))
    return changes
