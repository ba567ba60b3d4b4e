"""content's data migrations, run forwards over rows made before them."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from content.models import Content, content_hash


def test_the_hash_migration_hashes_every_card_and_keeps_an_owners_twins_apart(transactional_db, make_user):
    owner, other = make_user("owner"), make_user("other")
    executor = MigrationExecutor(connection)
    executor.migrate([("content", "0001_initial")])
    executor.loader.build_graph()
    old = executor.loader.project_state([("content", "0001_initial")]).apps.get_model("content", "Content")
    first = old.objects.create(owner_id=owner.id, title="ser", body="to be")
    twin = old.objects.create(owner_id=owner.id, title="ser", body="to be")
    theirs = old.objects.create(owner_id=other.id, title="ser", body="to be")

    executor.migrate(executor.loader.graph.leaf_nodes())

    hashes = dict(Content.objects.values_list("pk", "content_hash"))
    assert hashes[first.pk] == hashes[theirs.pk] == content_hash("ser", "to be")
    assert hashes[twin.pk] not in (hashes[first.pk], "")
