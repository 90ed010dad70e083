"""The reasons the system wrote on visits done out of their window, before they were kept
as the window check's code and parameters: the words of the time (English or Japanese)
give the parameters, read from then on in each reader's language. The words are left as
they were written; reasons a person typed match no former wording and stay as typed."""

import pgtrigger
from django.db import migrations

from ecrf.common.messages import former_finding_params

OUTSIDE_WINDOW = "assessment_outside_window"


def visit_reasons_to_codes(apps, schema_editor):
    VisitRecord = apps.get_model("schedule", "VisitRecord")
    with pgtrigger.ignore("schedule.VisitRecord:study_data_guard"):
        for visit in VisitRecord.objects.filter(reason_code="").exclude(reason=""):
            params = former_finding_params(OUTSIDE_WINDOW, visit.reason)
            if params:
                VisitRecord.objects.filter(pk=visit.pk).update(
                    reason_code=OUTSIDE_WINDOW, reason_params=params
                )


class Migration(migrations.Migration):
    dependencies = [
        ("schedule", "0005_visit_reason_as_message"),
    ]

    operations = [
        migrations.RunPython(visit_reasons_to_codes, migrations.RunPython.noop),
    ]
