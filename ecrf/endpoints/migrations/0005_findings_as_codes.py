"""The parameters of the findings written before they were kept: each finding's words,
as the code of the time wrote them in English or in Japanese, give the parameters of
its check's message, read from then on in each reader's language. Its words are left
as they were written; words that do not match stay as they are.

Adding the parameters changes none of what the row says, so the study data guard
(which would refuse the write on locked data and void the signatures) is passed over;
the audit triggers record each row's parameters.
"""

import pgtrigger
from django.db import migrations

from ecrf.common.messages import former_finding_params


def findings_to_params(apps, schema_editor):
    EditCheckFinding = apps.get_model("endpoints", "EditCheckFinding")
    with pgtrigger.ignore("endpoints.EditCheckFinding:study_data_guard"):
        for finding in EditCheckFinding.objects.filter(params={}):
            params = former_finding_params(finding.code, finding.message)
            if params:
                EditCheckFinding.objects.filter(pk=finding.pk).update(params=params)


class Migration(migrations.Migration):
    dependencies = [
        ("endpoints", "0004_finding_message_params"),
    ]

    operations = [
        migrations.RunPython(findings_to_params, migrations.RunPython.noop),
    ]
