"""Idempotency-Key for writes a client retries (the IETF draft "The Idempotency-Key HTTP Header
Field", as Stripe's API does it): `decorators.idempotent` on a view's handler."""
