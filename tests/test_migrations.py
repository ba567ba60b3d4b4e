"""Models and migrations agree, and the data migrations do what they say, run from the state
before them on the test database."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from accounts.models import ReleasedEmail


def test_models_and_migrations_agree(db):
    # --check exits non-zero when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


BEFORE_UNIQUE_EMAILS = [("accounts", "0002_families_and_unique_emails")]
UNIQUE_EMAILS = [("accounts", "0003_unique_emails")]


@pytest.fixture
def before_unique_emails(transactional_db):
    """The schema before emails were unique: yields its auth.User; the test migrates forward."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_UNIQUE_EMAILS)
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "accounts"]
    try:
        yield executor.loader.project_state(others + BEFORE_UNIQUE_EMAILS).apps.get_model("auth", "User")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_unique_email_migration_lets_the_oldest_account_keep_a_shared_email(before_unique_emails):
    User = before_unique_emails
    joined = datetime(2024, 1, 1, tzinfo=UTC)
    oldest = User.objects.create(username="first", email="Same@Example.com", date_joined=joined)
    later = User.objects.create(username="second", email="same@example.com", date_joined=joined + timedelta(days=1))
    tied = User.objects.create(username="third", email="SAME@example.com", date_joined=joined + timedelta(days=1))
    alone = User.objects.create(username="alone", email="alone@example.com", date_joined=joined)
    blanks = [User.objects.create(username=f"blank{n}", email="", date_joined=joined) for n in range(2)]

    MigrationExecutor(connection).migrate(UNIQUE_EMAILS)

    emails = dict(User.objects.values_list("username", "email"))
    assert emails == {
        "first": "Same@Example.com",
        "second": "",
        "third": "",
        "alone": "alone@example.com",
        "blank0": "",
        "blank1": "",
    }
    released = ReleasedEmail.objects.order_by("user_id").values_list("user_id", "email", "kept_by_user_id")
    assert list(released) == [(later.pk, "same@example.com", oldest.pk), (tied.pk, "SAME@example.com", oldest.pk)]
    assert {alone.pk, *(user.pk for user in blanks)}.isdisjoint(ReleasedEmail.objects.values_list("user_id", flat=True))


def test_after_the_migration_the_database_refuses_an_email_taken_in_another_case(before_unique_emails):
    before_unique_emails.objects.create(username="first", email="same@example.com")
    MigrationExecutor(connection).migrate(UNIQUE_EMAILS)
    with pytest.raises(IntegrityError), transaction.atomic():
        get_user_model().objects.create(username="second", email="Same@Example.com")
    get_user_model().objects.create(username="third", email="")
    get_user_model().objects.create(username="fourth", email="")
