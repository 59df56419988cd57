from datetime import datetime, timedelta, timezone

from service import ids


def test_new_ids_are_valid_and_strictly_increasing():
    made = [ids.new_id() for _ in range(2000)]  # many share a millisecond
    assert all(ids.is_valid(one) for one in made)
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_created_at_is_the_time_of_making():
    before = datetime.now(timezone.utc)
    made = ids.created_at(ids.new_id())
    after = datetime.now(timezone.utc)
    assert before - timedelta(milliseconds=1) <= made <= after


def test_malformed_ids_are_refused():
    good = ids.new_id()
    for bad in [
        "",
        good[:-1],
        good + "0",
        good.lower(),
        "8" + good[1:],
        good[:5] + "I" + good[6:],
        "../" + good,
    ]:
        assert not ids.is_valid(bad), bad
