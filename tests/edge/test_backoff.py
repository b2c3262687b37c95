"""The retry policy alone (edge/backoff.py), on a fake clock: the link's state, probes and the server's holds."""

from __future__ import annotations

from edge.backoff import Backoff, LinkState
from tests.edge.fakes import FakeClock


def link(clock: FakeClock, **kwargs) -> LinkState:
    return LinkState(clock=clock, random=lambda: 1.0, **kwargs)  # jitter draws 1.0: the whole delay


def test_jitter_spreads_the_wait_between_half_and_the_whole_delay():
    assert Backoff(base=2.0, cap=10.0, random=lambda: 0.0).delay(1) == 1.0
    assert Backoff(base=2.0, cap=10.0, random=lambda: 1.0).delay(3) == 8.0
    assert Backoff(base=2.0, cap=10.0, random=lambda: 1.0).delay(30) == 10.0  # capped


def test_an_up_link_sends_at_once():
    clock = FakeClock()
    state = link(clock)
    assert state.up and state.ready_at() <= clock()


def test_while_down_probes_come_on_a_short_schedule_capped_at_15_seconds():
    clock = FakeClock()
    state = link(clock)
    state.failed()
    waits = []
    for _ in range(7):
        waits.append(state.ready_at() - clock())
        clock.now = state.ready_at()
        state.probed(reachable=False)
    assert waits == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert not state.up


def test_a_probe_that_gets_an_answer_brings_the_next_attempt_forward_to_now():
    clock = FakeClock()
    state = link(clock)
    for _ in range(6):
        state.failed()
    assert state.ready_at() - clock() == 15.0
    state.probed(reachable=True)
    assert state.up and state.ready_at() <= clock()
    # ...but does not reset the count: a link that answers probes yet cuts real requests stays slow.
    state.failed()
    assert state.ready_at() - clock() == 15.0


def test_any_real_answer_resets_the_links_backoff():
    clock = FakeClock()
    state = link(clock)
    for _ in range(10):
        state.failed()
    state.answered()  # a heartbeat, a HEAD, a PUT, a POST or a model poll got through
    assert state.up and state.failures == 0 and state.ready_at() <= clock()
    state.failed()
    assert state.ready_at() - clock() == 1.0  # the next outage starts from the short end again


def test_retry_after_holds_everything_and_a_probe_does_not_shorten_it():
    clock = FakeClock()
    state = link(clock)
    state.told_to_wait(120.0)
    assert state.ready_at() - clock() == 120.0
    state.failed()  # a probe would be due in 1 s...
    state.probed(reachable=True)  # ...and even an answering probe leaves the hold in place
    assert state.ready_at() - clock() == 120.0
    state.answered()  # so does a heartbeat that got through: the server asked for quiet until then
    assert state.ready_at() - clock() == 120.0


def test_retry_after_is_floored_by_our_backoff_and_capped():
    clock = FakeClock()
    state = link(clock, hold_cap=60.0)
    state.told_to_wait(0.0)  # would spin against an overloaded server
    assert state.ready_at() - clock() == 1.0
    clock.now = state.ready_at()
    state.told_to_wait(None)  # a bare 429: our own backoff, growing while the server keeps refusing
    assert state.ready_at() - clock() == 2.0
    clock.now = state.ready_at()
    state.told_to_wait(86400.0)  # a day would park the device
    assert state.ready_at() - clock() == 60.0


def test_jitter_keeps_a_fleet_from_probing_in_step():
    clock = FakeClock()
    waits = []
    for draw in (0.0, 0.5, 1.0):  # three devices of a fleet that lost the server together
        state = LinkState(clock=clock, random=lambda draw=draw: draw)
        for _ in range(5):
            state.failed()
        waits.append(state.ready_at() - clock())
    assert waits == [7.5, 11.25, 15.0]  # between half the cap and the cap


def test_a_request_cut_while_others_got_answers_does_not_take_the_link_down():
    """One upload cut while its neighbours, started later, got through: the link works, so nothing pauses; a
    request with no answer since it started does take the link down."""
    clock = FakeClock()
    state = link(clock)
    started = clock()
    clock.now += 1
    state.answered()  # a neighbouring upload got through after the cut one started
    assert state.failed(started_at=started) is False
    assert state.up and state.failures == 0 and state.ready_at() <= clock()
    clock.now += 1
    assert state.failed(started_at=clock()) is True
    assert not state.up and state.ready_at() - clock() == 1.0


def test_each_answer_excuses_one_failure_only():
    clock = FakeClock()
    state = link(clock)
    started = clock()
    clock.now += 1
    state.answered()
    assert state.failed(started_at=started) is False
    assert state.failed(started_at=started) is True  # the same answer does not excuse the retry's failure too
    assert not state.up


def test_an_answer_at_the_same_instant_as_the_start_excuses_nothing():
    clock = FakeClock()
    state = link(clock)
    state.answered()
    assert state.failed(started_at=clock()) is True
