"""The chaos run: the API as deployed, with PostgreSQL and Redis of its own, learners over HTTP and
faults on a seeded schedule; the recorded history checked afterwards (README: "Chaos run")."""
