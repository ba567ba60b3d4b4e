"""python -m chaos [--seed N] [--operations N] [--clients N] [--redis-mode MODE] [--out var/chaos]"""

import argparse
import signal
import sys
from pathlib import Path

from chaos.faults import MODES
from chaos.run import run
from chaos.servers import missing_programs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--operations", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--users", type=int, default=3, help="learners per client")
    parser.add_argument(
        "--redis-mode",
        choices=sorted(MODES),
        default="standalone",
        help="standalone (through the run's proxy), sentinel (a master, a replica, three sentinels) "
        "or cluster (three masters)",
    )
    parser.add_argument(
        "--faults", default=None, help="comma-separated fault kinds (empty: none; default: all of the mode's)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="each fault kind at least this many times")
    parser.add_argument("--mutant", default=None, help="a bug from chaos/mutants to serve (the checker's self-test)")
    parser.add_argument("--out", type=Path, default=Path("var/chaos"))
    options = parser.parse_args(argv)
    # Note: SIGTERM as Ctrl-C: the run's finally blocks stop every server it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if missing := missing_programs():
        print(f"the chaos run needs {', '.join(missing)} on PATH", file=sys.stderr)
        return 2
    known = MODES[options.redis_mode]
    kinds = known if options.faults is None else [kind for kind in options.faults.split(",") if kind]
    if unknown := set(kinds) - set(known):
        parser.error(f"fault kinds {sorted(unknown)} not in {options.redis_mode} mode; known: {', '.join(known)}")
    summary = run(seed=options.seed, operations=options.operations, clients=options.clients, users=options.users,
                  out=options.out, fault_kinds=kinds, rounds=options.rounds, mutant=options.mutant,
                  redis_mode=options.redis_mode)  # fmt: skip
    return 1 if any(summary["anomalies"].values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
