from __future__ import annotations

from django.db import migrations

from ecrf.common.guard import GUARD_FUNCTION_SQL


class Migration(migrations.Migration):
    dependencies = [
        ("quality", "0001_initial"),
        ("participants", "0005_consent_study_data_guard_and_more"),
        ("studies", "0004_alter_study_study_age_bounds_ordered_and_more"),
    ]

    operations = [
        migrations.RunSQL(
            GUARD_FUNCTION_SQL,
            reverse_sql=(
                "DROP FUNCTION IF EXISTS "
                "ecrf_study_data_guard(bigint, text, text, jsonb, jsonb, bigint);"
            ),
        ),
    ]
