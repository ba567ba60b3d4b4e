"""Count the history there is into the day tallies: from here on, the completions keep them."""

from django.db import migrations

from analytics.services import days_recount


def count_days(apps, schema_editor):
    history, days = apps.get_model("review", "ReviewHistory"), apps.get_model("analytics", "DayTally")
    for user_id in history.objects.order_by().values_list("user_id", flat=True).distinct():
        days_recount(user_id=user_id, history=history, days=days)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial"), ("review", "0001_initial")]

    operations = [migrations.RunPython(count_days, migrations.RunPython.noop)]
