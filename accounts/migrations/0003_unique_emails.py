"""Emails become unique per user, compared case-insensitively (sign-in by email and password reset
need one account per address). Addresses shared today are resolved first: the oldest account
(earliest date_joined, then lowest id) keeps it; each later one is blanked and recorded in
ReleasedEmail. Blank emails stay blank and allowed: such an account signs in by username and has
no password reset until it sets an address."""

from django.db import migrations
from django.db.models.functions import Lower

INDEX = "accounts_user_email_ci_unique"


def release_shared_emails(apps, schema_editor):
    User = apps.get_model("auth", "User")
    ReleasedEmail = apps.get_model("accounts", "ReleasedEmail")
    keeper_of: dict[str, int] = {}
    users = User.objects.exclude(email="").annotate(folded=Lower("email")).order_by("date_joined", "pk")
    for user_id, email, folded in users.values_list("pk", "email", "folded").iterator():
        if folded not in keeper_of:
            keeper_of[folded] = user_id
            continue
        ReleasedEmail.objects.create(user_id=user_id, email=email, kept_by_user_id=keeper_of[folded])
        User.objects.filter(pk=user_id).update(email="")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_families_and_unique_emails"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(release_shared_emails, migrations.RunPython.noop),
        # Note: auth.User is not ours to give a Meta constraint; a partial expression index is the
        # same guarantee, understood alike by PostgreSQL and SQLite (blank means "no address").
        migrations.RunSQL(
            f"CREATE UNIQUE INDEX {INDEX} ON auth_user (LOWER(email)) WHERE email <> ''",
            f"DROP INDEX {INDEX}",
        ),
    ]
