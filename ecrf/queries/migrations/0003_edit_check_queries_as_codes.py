"""The parameters of the edit checks' queries opened before they were kept: the words
that opened each one, as the code of the time wrote them in English or in Japanese,
give the parameters of its check's message, read from then on in each reader's
language. The words are left as they were written; words that do not match stay as
they are (and are shown as they are)."""

from django.db import migrations

from ecrf.common.messages import former_finding_params


def queries_to_params(apps, schema_editor):
    Query = apps.get_model("queries", "Query")
    QueryMessage = apps.get_model("queries", "QueryMessage")
    for query in Query.objects.exclude(edit_check="").filter(edit_check_params={}):
        opened = (
            QueryMessage.objects.filter(query=query, kind="opened", author__isnull=True)
            .order_by("written_at", "pk")
            .first()
        )
        params = former_finding_params(query.edit_check, opened.text) if opened else None
        if params:
            Query.objects.filter(pk=query.pk).update(edit_check_params=params)


class Migration(migrations.Migration):
    dependencies = [
        ("queries", "0002_edit_check_params"),
    ]

    operations = [
        migrations.RunPython(queries_to_params, migrations.RunPython.noop),
    ]
