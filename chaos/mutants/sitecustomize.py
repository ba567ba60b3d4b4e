"""Loaded by every Python process the chaos run starts with chaos/mutants on PYTHONPATH (the app's
processes only, and only for the checker's self-test): once Django is set up, the bug named by
CHAOS_MUTANT is patched into the served code. Production code has no hook for it."""

import os

if os.environ.get("CHAOS_MUTANT"):
    import django

    _setup = django.setup

    def setup(*args, **kwargs):
        _setup(*args, **kwargs)
        import bugs

        bugs.inject(os.environ["CHAOS_MUTANT"])

    django.setup = setup
