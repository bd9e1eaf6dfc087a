from __future__ import annotations

from dataclasses import dataclass

from llmpulse.stream_jobs.chunks import ChunkPlanner


@dataclass(frozen=True)
class Rec:
    offset: int


def recs(a: int, b: int) -> list[Rec]:
    return [Rec(i) for i in range(a, b)]


def spans(chunks: list) -> list[tuple[int, int, int]]:
    return [(c.start, c.end, len(c.items)) for c in chunks]


def test_without_recorded_ranges_a_batch_is_a_chunk() -> None:
    planner: ChunkPlanner[Rec] = ChunkPlanner("t")
    planner.start_partition(0, [])
    assert spans(planner.add(0, recs(0, 7))) == [(0, 7, 7)]
    assert spans(planner.add(0, recs(7, 9))) == [(7, 9, 2)]
    assert planner.add(0, recs(7, 9))[0].token == "t/0/7-9"


def test_replay_recuts_at_recorded_boundaries_and_holds_incomplete_ranges() -> None:
    planner: ChunkPlanner[Rec] = ChunkPlanner("t")
    planner.start_partition(0, [(10, 20), (20, 25)])
    assert planner.add(0, recs(10, 18)) == []
    assert [r.offset for r in planner.held(0)] == list(range(10, 18))
    assert spans(planner.add(0, recs(18, 30))) == [(10, 20, 10), (20, 25, 5), (25, 30, 5)]
    assert planner.held(0) == []
    assert spans(planner.add(0, recs(30, 31))) == [(30, 31, 1)]


def test_replay_starting_inside_a_recorded_range_keeps_its_token() -> None:
    planner: ChunkPlanner[Rec] = ChunkPlanner("t")
    planner.start_partition(1, [(0, 5)])
    chunks = planner.add(1, recs(3, 9))
    assert spans(chunks) == [(0, 5, 2), (5, 9, 4)]
    assert chunks[0].token == "t/1/0-5"


def test_ranges_already_passed_are_ignored_and_forget_returns_held() -> None:
    planner: ChunkPlanner[Rec] = ChunkPlanner("t")
    planner.start_partition(2, [(0, 4), (4, 8), (8, 12)])
    assert spans(planner.add(2, recs(8, 10))) == []
    assert [r.offset for r in planner.forget(2)] == [8, 9]
    assert not planner.knows(2)


def test_gap_in_offsets_completes_a_range() -> None:
    planner: ChunkPlanner[Rec] = ChunkPlanner("t")
    planner.start_partition(0, [(0, 10)])
    assert spans(planner.add(0, [Rec(0), Rec(4), Rec(12)])) == [(0, 10, 2), (12, 13, 1)]
