"""Arrow tables written through the engine's one write path."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from flight_iox.app import build_app
from flight_iox.auth.policy import ANONYMOUS
from flight_iox.config import Settings
from flight_iox.engine.arrow_rows import measurement_batch_from_arrow
from flight_iox.errors import BadRequestError


def test_string_and_dictionary_columns_become_tags_the_rest_fields(tmp_path: Path) -> None:
    data = pa.table(
        {
            "host": pa.array(["a", "b"]).dictionary_encode(),
            "region": ["eu", "us"],
            "usage": pa.array([1.5, 2.5], pa.float32()),
            "count": pa.array([1, 2], pa.int32()),
            "time": pa.array([1_000, 2_000], pa.timestamp("us")),
        }
    )
    batch = measurement_batch_from_arrow("cpu", data)
    assert set(batch.tags) == {"host", "region"}
    assert batch.fields["usage"].type == pa.float64()
    assert batch.fields["count"].type == pa.int64()
    assert batch.time.to_pylist() == [1_000_000, 2_000_000]

    app = build_app(Settings(data_dir=tmp_path))
    outcome = app.engine.write_batches("arrowdb", [batch], principal=ANONYMOUS)
    assert outcome.rows_written == 2 and not outcome.errors
    result = app.query.execute("arrowdb", "SELECT host, count FROM cpu ORDER BY time")
    assert result.read_all().to_pylist() == [{"host": "a", "count": 1}, {"host": "b", "count": 2}]
    app.close()


def test_named_tags_and_bad_types_are_explained() -> None:
    data = pa.table({"s": ["x"], "time": pa.array([1], pa.timestamp("ns"))})
    assert set(measurement_batch_from_arrow("t", data, tag_columns=[]).fields) == {"s"}
    with pytest.raises(BadRequestError, match="tag columns not in the data: nope"):
        measurement_batch_from_arrow("t", data, tag_columns=["nope"])
    with pytest.raises(BadRequestError, match='no "time" column'):
        measurement_batch_from_arrow("t", pa.table({"v": [1.0]}))
    listy = pa.table({"v": pa.array([[1]]), "time": pa.array([1], pa.timestamp("ns"))})
    with pytest.raises(BadRequestError, match='column "v" has type list'):
        measurement_batch_from_arrow("t", listy)


@pytest.mark.parametrize("names", [["time", "time"], ["time", "v", "v"], ["time", "h", "h"]])
def test_a_column_named_twice_is_a_bad_request(names: list[str]) -> None:
    """Found by fuzzing Flight DoPut: pyarrow's KeyError on the lookup was an INTERNAL error."""
    columns = [pa.array([1], pa.int64()) if n != "h" else pa.array(["a"]) for n in names]
    data = pa.Table.from_arrays(columns, names=names)
    with pytest.raises(BadRequestError, match="appears more than once"):
        measurement_batch_from_arrow("t", data)
