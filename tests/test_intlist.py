import pytest

from nasbench_suite.intlist import format_int_list, parse_int_list


@pytest.mark.parametrize("text, expected", [
    ("0-3", [0, 1, 2, 3]), ("0,5,7-9", [0, 5, 7, 8, 9]), ("10, 100 ,1000", [10, 100, 1000]), ("4", [4]),
    ("4-4", [4]), ("9,2-3", [9, 2, 3]),  # a range of one (A-A); the order written, not sorted
])
def test_parse(text: str, expected: list[int]) -> None:
    assert parse_int_list(text) == expected


@pytest.mark.parametrize("text", ["", "a-b", "3-1", "1,,2", "-1", "1.5", "0-",
                                  pytest.param("7" * 5000, id="5000-digits"),  # past int()'s 4,300 digits:
                                  pytest.param("1-" + "7" * 5000, id="to-5000-digits")])  # was int()'s own message
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a list of non-negative integers"):
        parse_int_list(text)


def test_format_round_trips() -> None:
    assert format_int_list([8, 0, 1, 2, 5, 7]) == "0-2,5,7-8"
    assert parse_int_list(format_int_list([3, 9, 4, 10])) == [3, 4, 9, 10]


def test_a_range_past_the_limit_is_refused_before_it_is_expanded() -> None:
    """'0-99999999999' was a MemoryError (a traceback from `nasbench search --seeds` and compare configs)."""
    with pytest.raises(ValueError, match="expands to 100,000,000,000 integers; at most 1,000,000"):
        parse_int_list("0-99999999999")
    with pytest.raises(ValueError, match="at most 1,000,000"):  # past sys.maxsize, where len(range) overflows
        parse_int_list("5,0-99999999999999999999999999")
    assert len(parse_int_list("0-999999")) == 1_000_000
    with pytest.raises(ValueError, match="expands to 1,000,001 integers; at most 1,000,000"):  # one past the limit,
        parse_int_list("5,0-999999")  # counted over the whole list, not per range


def test_the_digit_limit_is_the_one_int_converts_at_both_ends_of_a_range() -> None:
    """4,300 digits parse (the most int() converts); 4,301 are refused with the list's own message, as the
    first integer and as a range's end (a pattern one digit longer let int()'s own message through)."""
    assert parse_int_list("7" * 4300) == [int("7" * 4300)]
    for text in ("7" * 4301, "1-" + "7" * 4301):
        with pytest.raises(ValueError, match="not a list of non-negative integers"):
            parse_int_list(text)
    with pytest.raises(ValueError, match="at most 1,000,000"):  # a range to 4,300 digits is read, then too long
        parse_int_list("1-" + "7" * 4300)


def test_the_largest_seed_is_int64s_largest_and_bools_are_not_integers() -> None:
    import numpy as np

    from nasbench_suite.intlist import MAX_SEED, is_integer

    assert MAX_SEED == int(np.iinfo(np.int64).max) == 2**63 - 1  # the seeds column of trajectories is int64
    assert is_integer(3) and is_integer(np.int64(3)) and is_integer(np.uint8(0))
    assert not is_integer(True) and not is_integer(np.bool_(True)) and not is_integer(3.0)
