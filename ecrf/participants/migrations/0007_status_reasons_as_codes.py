"""The reasons the system wrote for status changes before they were kept as message
codes: each one written in English or in Japanese by the code of the time becomes its
code and parameters, read from then on in each reader's language. Its text is left as
it was written. A reason a person typed matches none of them and stays as typed.

Adding the code changes none of what the row says, so the study data guard (which
would refuse the write on locked data and void the signatures) is passed over; the
audit triggers record each row's new code.
"""

import re

import pgtrigger
from django.db import migrations

#: The texts of the time, by code: English, then Japanese.
REASONS = {
    "eligibility_assessed": ("Eligibility assessed", "適格性判定を実施"),
    "consent_recorded": ("Consent recorded", "同意取得を記録"),
    "age_counted_at_consent": ("Age counted at consent", "同意取得時の年齢で再判定"),
    "randomized": ("Randomized: %(number)s", "無作為割付（割付番号 %(number)s）"),
    "both_endpoints_recorded": ("Both endpoints recorded", "両評価項目を記録"),
}


def _pattern(template):
    pattern, position = "", 0
    for found in re.finditer(r"%\((\w+)\)s", template):
        pattern += re.escape(template[position : found.start()]) + f"(?P<{found.group(1)}>.+?)"
        position = found.end()
    return re.compile(pattern + re.escape(template[position:]), re.DOTALL)


PATTERNS = [
    (code, _pattern(template)) for code, texts in REASONS.items() for template in texts
]


def reason_code(reason):
    """The code and parameters of a reason the system wrote, or ``None``."""
    for code, pattern in PATTERNS:
        matched = pattern.fullmatch(reason)
        if matched:
            return code, matched.groupdict()
    return None


def reasons_to_codes(apps, schema_editor):
    StatusChange = apps.get_model("participants", "StatusChange")
    with pgtrigger.ignore("participants.StatusChange:study_data_guard"):
        for change in StatusChange.objects.filter(reason_code="").exclude(reason=""):
            found = reason_code(change.reason)
            if found is not None:
                StatusChange.objects.filter(pk=change.pk).update(
                    reason_code=found[0], reason_params=found[1]
                )


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0006_status_reason_as_message"),
    ]

    operations = [
        migrations.RunPython(reasons_to_codes, migrations.RunPython.noop),
    ]
