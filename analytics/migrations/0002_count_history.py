"""Count the history there is into the tallies: from here on, review_complete keeps them."""

from django.db import migrations

from analytics.services import recount


def count_history(apps, schema_editor):
    history = apps.get_model("review", "ReviewHistory")
    cards, days = apps.get_model("analytics", "CardTally"), apps.get_model("analytics", "DayTally")
    for user_id in history.objects.order_by().values_list("user_id", flat=True).distinct():
        recount(user_id=user_id, history=history, cards=cards, days=days)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial"), ("review", "0001_initial")]

    operations = [migrations.RunPython(count_history, migrations.RunPython.noop)]
