"""When an entry should be recomputed: probabilistic early expiration (XFetch, Vattani, Chierichetti
and Lowenstein, "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015).

A reader recomputes early when `now - delta * beta * ln(random()) >= expiry`, where `delta` is how
long the last computation took. The chance of an early recompute is exp(-(expiry - now) /
(delta * beta)): negligible far from expiry, rising as it nears, and earlier for entries that are
slow to compute, so usually one reader refreshes the entry before it expires instead of many at once.
"""

import math
from collections.abc import Callable


def recompute_early(*, now: float, expiry: float, delta: float, beta: float, random: Callable[[], float]) -> bool:
    if now >= expiry:
        return True
    draw = random()
    if draw <= 0.0:  # ln(0) is -inf: a certain recompute, as the formula's limit says
        return True
    return now - delta * beta * math.log(draw) >= expiry
