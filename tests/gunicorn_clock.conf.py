"""gunicorn as deployed (deploy/gunicorn.conf.py), with the wall clock of `utils.clock` in each
worker starting at TEST_CLOCK_START: a test then knows which throttle window its requests fall
in, instead of waiting for a window boundary to pass."""

import os
import runpy
import time

globals().update(runpy.run_path("deploy/gunicorn.conf.py"))
_offset = float(os.environ["TEST_CLOCK_START"]) - time.time()


def post_fork(server, worker):
    from utils import clock

    clock.timestamp = lambda: time.time() + _offset
