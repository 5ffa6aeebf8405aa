"""The applied watermark only advances over gap-free runs of sequences."""

from __future__ import annotations

from flight_iox.engine.watermark import SequenceWatermark


def test_out_of_order_applies_advance_only_without_gaps() -> None:
    mark = SequenceWatermark(10)
    mark.applied(12)
    assert mark.value == 10
    mark.applied(11)
    assert mark.value == 12
    mark.applied(14)
    mark.applied(13)
    assert mark.value == 14
    mark.applied(5)
    assert mark.value == 14
