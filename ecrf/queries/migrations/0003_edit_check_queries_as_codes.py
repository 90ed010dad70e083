"""The parameters of the edit checks' queries opened before they were kept: the words
that opened each one, as the code of the time wrote them in English or in Japanese,
give the parameters of its check's message, read from then on in each reader's
language. The words are left as they were written; words that do not match stay as
they are (and are shown as they are)."""

import re

from django.db import migrations

#: The words of each check's finding at the time: English, then Japanese.
FINDINGS = {
    "assessment_before_et": (
        "The assessment (%(assessed)s) is dated before the embryo transfer (%(et)s).",
        "評価日（%(assessed)s）が胚移植日（%(et)s）より前になっています。",
    ),
    "hcg_out_of_range": (
        "Serum hCG %(value)s mIU/mL is outside 0 to %(max)s mIU/mL.",
        "血中hCG %(value)s mIU/mL は 0～%(max)s mIU/mL の範囲外です。",
    ),
    "assessment_outside_window": (
        "The assessment (%(assessed)s) is outside the visit window (%(start)s to %(end)s).",
        "評価日（%(assessed)s）が来院許容範囲（%(start)s～%(end)s）外です。",
    ),
    "hcg_positive_below_cutoff": (
        "The result is positive but serum hCG %(value)s mIU/mL is under the cut-off of "
        "%(cutoff)s mIU/mL.",
        "結果は陽性ですが、血中hCG %(value)s mIU/mL はカットオフ値 %(cutoff)s mIU/mL 未満です。",
    ),
}


def _pattern(template):
    pattern, position = "", 0
    for found in re.finditer(r"%\((\w+)\)s", template):
        pattern += re.escape(template[position : found.start()]) + f"(?P<{found.group(1)}>.+?)"
        position = found.end()
    return re.compile(pattern + re.escape(template[position:]), re.DOTALL)


PATTERNS = {code: [_pattern(t) for t in texts] for code, texts in FINDINGS.items()}


def finding_params(code, text):
    """The parameters of the finding of check ``code`` worded ``text``, or ``None``."""
    for pattern in PATTERNS.get(code, ()):
        matched = pattern.fullmatch(text)
        if matched:
            return matched.groupdict()
    return None


def queries_to_params(apps, schema_editor):
    Query = apps.get_model("queries", "Query")
    QueryMessage = apps.get_model("queries", "QueryMessage")
    for query in Query.objects.exclude(edit_check="").filter(edit_check_params={}):
        opened = (
            QueryMessage.objects.filter(query=query, kind="opened", author__isnull=True)
            .order_by("written_at", "pk")
            .first()
        )
        params = finding_params(query.edit_check, opened.text) if opened else None
        if params:
            Query.objects.filter(pk=query.pk).update(edit_check_params=params)


class Migration(migrations.Migration):
    dependencies = [
        ("queries", "0002_edit_check_params"),
    ]

    operations = [
        migrations.RunPython(queries_to_params, migrations.RunPython.noop),
    ]
