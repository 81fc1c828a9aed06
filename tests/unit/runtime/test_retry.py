from __future__ import annotations

import pytest

from qgen.runtime.retry import backoff_delay


def test_fixed_is_constant() -> None:
    b = {"type": "fixed", "delay": 250}
    assert [backoff_delay(b, n) for n in (1, 2, 5)] == [0.25, 0.25, 0.25]


def test_exponential_doubles_from_the_first_retry() -> None:
    b = {"type": "exponential", "delay": 100}
    assert [backoff_delay(b, n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.8]


def test_default_is_exponential_one_second() -> None:
    assert backoff_delay(None, 1) == 1.0
    assert backoff_delay(None, 3) == 4.0


def test_max_delay_caps() -> None:
    b = {"type": "exponential", "delay": 1000, "max_delay": 3000}
    assert [backoff_delay(b, n) for n in (1, 2, 3, 10)] == [1.0, 2.0, 3.0, 3.0]


def test_huge_attempt_does_not_overflow() -> None:
    assert backoff_delay({"type": "exponential", "delay": 1000, "max_delay": 5}, 1000) == 0.005
    assert backoff_delay({"type": "exponential", "delay": 1}, 1000) > 1e6


@pytest.mark.parametrize("r", [0.0, 0.5, 0.999])
def test_jitter_reduces_by_up_to_its_share(r: float) -> None:
    b = {"type": "fixed", "delay": 1000, "jitter": 0.5}
    assert backoff_delay(b, 1, rand=lambda: r) == pytest.approx(1.0 - 0.5 * r)


def test_jitter_stays_within_bounds_and_varies() -> None:
    b = {"type": "exponential", "delay": 1000, "max_delay": 4000, "jitter": 0.3}
    values = {backoff_delay(b, 5) for _ in range(200)}
    assert all(4.0 * 0.7 <= v <= 4.0 for v in values)
    assert len(values) > 50
