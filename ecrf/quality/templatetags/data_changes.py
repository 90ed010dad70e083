"""Why the database voided a signature, in the reader's words: the guard writes the change
as ``<form> <row> changed: <columns>`` (codes, the same in every language); a page reads
it as the form's and the fields' labels in the reader's language."""

from __future__ import annotations

import re

from django import template
from django.utils.translation import gettext as _

from ecrf.queries.selectors import field_label, form_label

register = template.Library()

#: The guard's words for a change: the form's code, the row's id, the changed columns
#: (or the operation, ``insert`` or ``delete``, for a row added or removed).
_GUARD_CHANGE = re.compile(r"^(?P<form>\w+) (?P<row>\S+) changed: (?P<what>.*)$")


@register.filter
def data_change(stored: str) -> str:
    """The guard's record of a change (a signature's void reason) in the reader's words;
    as stored when it is not in the guard's form (a reason a person gave, say)."""
    matched = _GUARD_CHANGE.match(stored or "")
    if matched is None:
        return stored
    form = matched.group("form")
    what = matched.group("what")
    if what == "insert":
        change = _("a record was added")
    elif what == "delete":
        change = _("a record was deleted")
    else:
        change = ", ".join(field_label(form, name.strip()) for name in what.split(","))
    return _("%(form)s changed: %(change)s") % {"form": form_label(form), "change": change}
