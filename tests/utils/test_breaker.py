"""utils.breaker: a circuit opened by failures in a row lets one probe through after its
cool-down, or as soon as a watcher of that opening saw the server answer again."""

from utils.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def opened(clock: Clock) -> CircuitBreaker:
    circuit = CircuitBreaker(failure_threshold=2, cooldown_seconds=5.0, clock=clock)
    assert circuit.record_failure() is False
    assert circuit.record_failure() is True, "the failure that opens the circuit says so"
    return circuit


def test_a_failure_says_whether_it_opened_the_circuit():
    circuit = opened(Clock())
    assert circuit.record_failure() is False, "already open"
    assert (circuit.state, circuit.openings) == (OPEN, 1)


def test_within_the_cool_down_nothing_is_let_through_and_after_it_one_probe():
    clock = Clock()
    circuit = opened(clock)
    clock.now += 4.9
    assert circuit.allow() is False and circuit.cooling(circuit.openings)
    clock.now += 0.2
    assert not circuit.cooling(circuit.openings)
    assert circuit.allow() is True and circuit.state == HALF_OPEN
    assert circuit.allow() is False, "one probe at a time"


def test_a_sign_of_life_ends_the_cool_down_at_once_and_lets_one_probe_through():
    clock = Clock()
    circuit = opened(clock)
    clock.now += 0.5
    circuit.cut_short(circuit.openings)
    assert circuit.allow() is True and circuit.state == HALF_OPEN
    assert circuit.allow() is False
    assert circuit.record_success() is True and circuit.state == CLOSED


def test_a_sign_of_life_from_an_earlier_opening_does_not_end_a_later_cool_down():
    clock = Clock()
    circuit = opened(clock)
    first = circuit.openings
    clock.now += 5.0
    assert circuit.allow() is True
    assert circuit.record_failure() is True, "the probe failed: open again"
    circuit.cut_short(first)
    assert circuit.allow() is False and circuit.cooling(circuit.openings)
    assert not circuit.cooling(first)
