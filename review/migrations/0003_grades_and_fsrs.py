from django.db import migrations, models
from django.db.models import Case, Count, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce

def grade_history(apps, schema_editor):
    """Each card's passes (hard and better) and lapses
    (forgotten once learned: every `forgot` after the card's first review) from its history."""
    history, schedules = apps.get_model("review", "ReviewHistory"), apps.get_model("review", "ReviewSchedule")
    rows = history.objects.filter(content_id=OuterRef("content_id")).order_by().values("content_id")
    first = history.objects.filter(content_id=OuterRef(OuterRef("content_id"))).order_by("reviewed_at", "id")
    recalled = rows.filter(grade__gte=2).annotate(n=Count("id")).values("n")
    lapses = rows.filter(~Q(id=Subquery(first.values("id")[:1])), grade=1).annotate(n=Count("id")).values("n")
    schedules.objects.update(
        recalled=Coalesce(Subquery(recalled), 0),
        lapses=Coalesce(Subquery(lapses), 0),
        state=Case(When(initial_review_completed=True, then=Value(2)), default=Value(0)),
        last_review_at=Subquery(rows.order_by("-reviewed_at").values("reviewed_at")[:1]),
    )
    history.objects.update(scheduler="ladder")


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0002_schedule_counts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="reviewhistory",
            name="result",
            field=models.CharField(
                choices=[
                    ("again", "again"),
                    ("hard", "hard"),
                    ("good", "good"),
                    ("easy", "easy"),
                    ("forgot", "forgot"),
                    ("partial", "partial"),
                    ("remembered", "remembered"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="reviewhistory",
            name="grade",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Case(
                    models.When(result="again", then=models.Value(1)),
                    models.When(result="hard", then=models.Value(2)),
                    models.When(result="good", then=models.Value(3)),
                    models.When(result="easy", then=models.Value(4)),
                    models.When(result="forgot", then=models.Value(1)),
                    models.When(result="partial", then=models.Value(2)),
                    models.When(result="remembered", then=models.Value(3)),
                ),
                output_field=models.PositiveSmallIntegerField(
                    choices=[(1, "again"), (2, "hard"), (3, "good"), (4, "easy")]
                ),
            ),
        ),
        migrations.AddField(
            model_name="reviewhistory",
            name="scheduler",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AddField(
            model_name="reviewhistory",
            name="prior",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="reviewschedule",
            name="recalled",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="reviewschedule",
            name="lapses",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="reviewschedule",
            name="state",
            field=models.PositiveSmallIntegerField(
                choices=[(0, "new"), (1, "learning"), (2, "review"), (3, "relearning")], default=0
            ),
        ),
        migrations.AddField(
            model_name="reviewschedule",
            name="step",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="reviewschedule",
            name="stability",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="reviewschedule",
            name="difficulty",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="reviewschedule",
            name="due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="reviewschedule",
            name="last_review_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(grade_history, migrations.RunPython.noop),
    ]
