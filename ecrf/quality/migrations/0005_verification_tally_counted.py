from django.db import migrations


def count(apps, schema_editor):
    from ecrf.quality.tally import tally_rebuild

    tally_rebuild()


class Migration(migrations.Migration):
    dependencies = [
        ("quality", "0004_verification_tally"),
        ("endpoints", "0007_verification_tally"),
        ("labs", "0003_verification_tally"),
        ("safety", "0004_verification_tally"),
        ("schedule", "0007_verification_tally"),
    ]

    operations = [migrations.RunPython(count, migrations.RunPython.noop)]
