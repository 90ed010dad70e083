"""The parameters of the findings written before they were kept: each finding's words,
as the code of the time wrote them in English or in Japanese, give the parameters of
its check's message, read from then on in each reader's language. Its words are left
as they were written; words that do not match stay as they are.

Adding the parameters changes none of what the row says, so the study data guard
(which would refuse the write on locked data and void the signatures) is passed over;
the audit triggers record each row's parameters.
"""

import re

import pgtrigger
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


def findings_to_params(apps, schema_editor):
    EditCheckFinding = apps.get_model("endpoints", "EditCheckFinding")
    with pgtrigger.ignore("endpoints.EditCheckFinding:study_data_guard"):
        for finding in EditCheckFinding.objects.filter(params={}):
            params = finding_params(finding.code, finding.message)
            if params:
                EditCheckFinding.objects.filter(pk=finding.pk).update(params=params)


class Migration(migrations.Migration):
    dependencies = [
        ("endpoints", "0004_finding_message_params"),
    ]

    operations = [
        migrations.RunPython(findings_to_params, migrations.RunPython.noop),
    ]
