from tests.helpers import clock  # noqa: F401  (autouse: freezes utils.clock.now at NOW)
