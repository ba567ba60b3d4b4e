"""What tests swap: the wall clock, the random source and sleep. Production uses the defaults;
a test says `with runtime.use(random=Random(7).random): ...`."""

import random as _random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Runtime:
    clock: Callable[[], float] = time.time
    random: Callable[[], float] = _random.random
    sleep: Callable[[float], None] = time.sleep


current = Runtime()


@contextmanager
def use(**overrides) -> Iterator[Runtime]:
    global current
    previous, current = current, replace(current, **overrides)
    try:
        yield current
    finally:
        current = previous
