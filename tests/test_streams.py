"""bertgpt/pretrain/streams.py: generators driven in turns."""
import pytest

from bertgpt.pretrain.streams import round_robin


class Tracked:
    """A generator of `n` items that records how far it got and whether it was closed."""

    def __init__(self, name, n, fail_at=None):
        self.name, self.n, self.fail_at = name, n, fail_at
        self.started = self.closed = self.finished = False
        self.gen = self._run()

    def _run(self):
        self.started = True
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise ValueError(f"{self.name} broke at {i}")
                yield f"{self.name}{i}"
            self.finished = True
        finally:
            self.closed = True


def test_one_item_from_each_in_turn_in_the_mappings_order():
    streams = {"b": iter("xyz"), "a": iter("123")}
    assert list(round_robin(streams)) == [("b", "x"), ("a", "1"), ("b", "y"), ("a", "2"),
                                          ("b", "z"), ("a", "3")]


def test_uneven_lengths_the_longer_goes_on_alone():
    out = list(round_robin({"short": ["s0"], "long": ["l0", "l1", "l2"], "none": []}))
    assert out == [("short", "s0"), ("long", "l0"), ("long", "l1"), ("long", "l2")]


def test_every_stream_runs_to_its_end():
    a, b = Tracked("a", 2), Tracked("b", 4)
    items = [item for _, item in round_robin({"a": a.gen, "b": b.gen})]
    assert items == ["a0", "b0", "a1", "b1", "b2", "b3"]
    assert a.finished and b.finished


def test_a_consumer_that_stops_early_closes_every_open_stream():
    a, b, c = Tracked("a", 1), Tracked("b", 10), Tracked("c", 10)
    turns = round_robin({"a": a.gen, "b": b.gen, "c": c.gen})
    seen = [next(turns) for _ in range(5)]  # a0 b0 c0, then a is done, b1 c1
    assert [item for _, item in seen] == ["a0", "b0", "c0", "b1", "c1"]
    assert a.finished and not b.closed and not c.closed
    turns.close()
    assert b.closed and c.closed and not b.finished and not c.finished


def test_a_stream_that_fails_closes_the_others_and_the_error_reaches_the_consumer():
    a, b = Tracked("a", 5, fail_at=1), Tracked("b", 5)
    seen = []
    with pytest.raises(ValueError, match="a broke at 1"):
        for _, item in round_robin({"a": a.gen, "b": b.gen}):
            seen.append(item)
    assert seen == ["a0", "b0"]
    assert b.closed and not b.finished


def test_streams_not_yet_started_are_closed_without_running():
    a, b = Tracked("a", 3), Tracked("b", 3)
    turns = round_robin({"a": a.gen, "b": b.gen})
    assert next(turns) == ("a", "a0")
    turns.close()
    assert a.closed and not b.started  # closing a fresh generator runs none of its body
