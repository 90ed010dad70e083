
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models


def split_days_into_intakes(apps, schema_editor):
    """Each day recorded before the diary kept intakes becomes its morning and its evening
    intake: the day's capsules split evenly (an odd one goes to the morning), the time
    kept on the morning, a missed day's comment as its reason.
    It runs after the audit triggers are back, so the trail holds each split."""
    DoseEntry = apps.get_model("schedule", "DoseEntry")
    for day in DoseEntry.objects.filter(intake="morning").order_by("pk"):
        evening_capsules = day.capsules // 2
        morning_capsules = day.capsules - evening_capsules
        per_capsule = day.dose_mg / day.capsules if day.capsules else 0
        reason = "" if day.taken else day.comment
        DoseEntry.objects.create(
            participant_id=day.participant_id,
            date=day.date,
            intake="evening",
            taken=day.taken,
            dose_mg=per_capsule * evening_capsules,
            capsules=evening_capsules,
            time_taken=None,
            missed_reason=reason,
            comment=day.comment,
            deviation=day.deviation,
            deviation_reason=day.deviation_reason,
            recorded_by_id=day.recorded_by_id,
        )
        DoseEntry.objects.filter(pk=day.pk).update(
            dose_mg=per_capsule * morning_capsules,
            capsules=morning_capsules,
            missed_reason=reason,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0005_consent_study_data_guard_and_more"),
        ("schedule", "0003_reminder_refusals"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="doseentry",
            options={
                "ordering": ["participant", "date", "intake"],
                "verbose_name": "dose diary entry",
                "verbose_name_plural": "dose diary entries",
            },
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="doseentry",
            name="create_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="doseentry",
            name="update_update",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="doseentry",
            name="delete_delete",
        ),
        migrations.RemoveConstraint(
            model_name="doseentry",
            name="one_dose_entry_per_day",
        ),
        migrations.AddField(
            model_name="doseentry",
            name="intake",
            field=models.CharField(
                choices=[("morning", "Morning"), ("evening", "Evening")],
                default="morning",
                max_length=7,
                verbose_name="intake",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="doseentry",
            name="missed_reason",
            field=models.CharField(blank=True, max_length=500, verbose_name="reason missed"),
        ),
        migrations.AddField(
            model_name="doseentryevent",
            name="intake",
            field=models.CharField(
                choices=[("morning", "Morning"), ("evening", "Evening")],
                default="morning",
                max_length=7,
                verbose_name="intake",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="doseentryevent",
            name="missed_reason",
            field=models.CharField(blank=True, max_length=500, verbose_name="reason missed"),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="doseentry",
            trigger=pgtrigger.compiler.Trigger(
                name="create_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "schedule_doseentryevent" ("capsules", "comment", "date", "deviation", "deviation_reason", "dose_mg", "id", "intake", "missed_reason", "participant_id", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "recorded_at", "recorded_by_id", "taken", "time_taken") VALUES (NEW."capsules", NEW."comment", NEW."date", NEW."deviation", NEW."deviation_reason", NEW."dose_mg", NEW."id", NEW."intake", NEW."missed_reason", NEW."participant_id", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'create\', NEW."id", NEW."recorded_at", NEW."recorded_by_id", NEW."taken", NEW."time_taken"); RETURN NULL;',
                    hash="ad6e4cffc523a22d09a560670a283cb2c38c048c",
                    operation="INSERT",
                    pgid="pgtrigger_create_insert_78e70",
                    table="schedule_doseentry",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="doseentry",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (OLD."capsules" IS DISTINCT FROM (NEW."capsules") OR OLD."comment" IS DISTINCT FROM (NEW."comment") OR OLD."date" IS DISTINCT FROM (NEW."date") OR OLD."deviation" IS DISTINCT FROM (NEW."deviation") OR OLD."deviation_reason" IS DISTINCT FROM (NEW."deviation_reason") OR OLD."dose_mg" IS DISTINCT FROM (NEW."dose_mg") OR OLD."id" IS DISTINCT FROM (NEW."id") OR OLD."intake" IS DISTINCT FROM (NEW."intake") OR OLD."missed_reason" IS DISTINCT FROM (NEW."missed_reason") OR OLD."participant_id" IS DISTINCT FROM (NEW."participant_id") OR OLD."recorded_by_id" IS DISTINCT FROM (NEW."recorded_by_id") OR OLD."taken" IS DISTINCT FROM (NEW."taken") OR OLD."time_taken" IS DISTINCT FROM (NEW."time_taken"))',
                    func='INSERT INTO "schedule_doseentryevent" ("capsules", "comment", "date", "deviation", "deviation_reason", "dose_mg", "id", "intake", "missed_reason", "participant_id", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "recorded_at", "recorded_by_id", "taken", "time_taken") VALUES (NEW."capsules", NEW."comment", NEW."date", NEW."deviation", NEW."deviation_reason", NEW."dose_mg", NEW."id", NEW."intake", NEW."missed_reason", NEW."participant_id", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'update\', NEW."id", NEW."recorded_at", NEW."recorded_by_id", NEW."taken", NEW."time_taken"); RETURN NULL;',
                    hash="55ea26c81aada03e1cafb145a0b8b3009acb94fc",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_0d990",
                    table="schedule_doseentry",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="doseentry",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "schedule_doseentryevent" ("capsules", "comment", "date", "deviation", "deviation_reason", "dose_mg", "id", "intake", "missed_reason", "participant_id", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "recorded_at", "recorded_by_id", "taken", "time_taken") VALUES (OLD."capsules", OLD."comment", OLD."date", OLD."deviation", OLD."deviation_reason", OLD."dose_mg", OLD."id", OLD."intake", OLD."missed_reason", OLD."participant_id", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'delete\', OLD."id", OLD."recorded_at", OLD."recorded_by_id", OLD."taken", OLD."time_taken"); RETURN NULL;',
                    hash="838970678db33c7558ebe95a76c17fbd27c75120",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_6c13d",
                    table="schedule_doseentry",
                    when="AFTER",
                ),
            ),
        ),
        migrations.RunPython(split_days_into_intakes, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="doseentry",
            constraint=models.UniqueConstraint(
                fields=("participant", "date", "intake"), name="one_dose_entry_per_intake"
            ),
        ),
        migrations.AddConstraint(
            model_name="doseentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("taken", False), ("missed_reason", ""), _connector="OR"),
                name="taken_dose_has_no_missed_reason",
            ),
        ),
    ]
