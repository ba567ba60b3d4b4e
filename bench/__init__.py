"""The benchmark harness of the cache layer (`make bench-quick`, `make bench`, `python -m bench`).

    python -m bench [--quick | --tiny] [--users N --contents M --duration S ...] [--json PATH]

What it measures, in order (each part is a module here):

- `dbs`: a seeded database of its own (a template seeded once and kept, copied per phase), on the
  server of DATABASE_URL when set (a database named `<name>_bench_...`), else SQLite files;
- `hitpath`: in-process, through the real WSGI handler (middleware, JWT + revocation, throttles):
  floor, cache hit, uncached and a drf-extensions peer, per endpoint, interleaved in rounds, with
  SQL queries and Redis round trips counted per request; and a profile of the hit;
- `cachecost`: one user's invalidation with 1k / 10k / 100k entries cached, and Redis bytes per
  entry against the JSON body;
- `workload`: gunicorn (deploy/gunicorn.conf.py, 2 workers) driven over loopback by `loadgen`,
  cache off vs on, Zipf(1.1) users, a mix of reads and writes;
- `report`: the markdown table on stdout and the JSON in bench/results/latest.json, with the
  targets and whether each is met.

Nothing here is imported by the application; `bench.settings` / `bench.urls` / `bench.wsgi` are
used only by the bench's own processes.
"""
