"""Result encodings: InfluxDB 1.x JSON (plain and chunked), CSV, and one flat Arrow table.

The Arrow form is what InfluxDB 3 returns for InfluxQL over Flight and
``/api/v3/query_influxql``: an ``iox::measurement`` column, ``time``, the
group-by tags, then the selected columns, all series stacked.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.influxql.result import Series, StatementResult
from flight_iox.query.dictionaries import decoded
from flight_iox.query.json_rows import value_text

MEASUREMENT_COLUMN = "iox::measurement"
MANY_SERIES = 8  # from this many series sharing a schema, v1 JSON is built a column at a time
EPOCH_DIVISORS: dict[str, int] = {
    "ns": 1,
    "n": 1,
    "u": 1_000,
    "µ": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def rfc3339(times: pa.Array) -> Sequence[str | None]:
    """RFC 3339 with nanoseconds and trailing zeros trimmed, as Go's ``RFC3339Nano``."""
    nanos = times.cast(pa.int64()).to_numpy(zero_copy_only=False)
    zone = getattr(times.type, "tz", None)
    if zone and zone.upper() != "UTC":
        from flight_iox.influxql.tz import rfc3339_with_offset

        return rfc3339_with_offset(nanos, zone)
    text = np.datetime_as_string(nanos.astype("datetime64[ns]"), unit="ns")
    out = pc.replace_substring_regex(pa.array(text), r"\.?0+$", "")
    out = pc.binary_join_element_wise(out, pa.array(["Z"] * len(out)), "")
    return out.to_pylist()


def _time_values(column: pa.Array, epoch: str | None) -> Sequence[object]:
    if epoch is None:
        return rfc3339(column)
    nanos = column.cast(pa.int64())
    divisor = EPOCH_DIVISORS.get(epoch, 1)
    if divisor == 1:
        return nanos.to_pylist()
    return (nanos.to_numpy(zero_copy_only=False) // divisor).tolist()


def _plain(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def series_values(series: Series, epoch: str | None) -> list[list[object]]:
    """The rows of a series, JSON-ready (time first when the series has one)."""
    columns: list[Sequence[object]] = []
    for i in range(series.data.num_columns):
        column = series.data.column(i).combine_chunks()
        if pa.types.is_timestamp(column.type):
            columns.append(_time_values(column, epoch))
        elif pa.types.is_floating(column.type):
            columns.append([_plain(v) for v in column.to_pylist()])
        else:
            columns.append(decoded(column).to_pylist())
    return [list(row) for row in zip(*columns, strict=True)]


def values_texts(run: list[Series], epoch: str | None) -> list[str] | None:
    """The ``values`` of series sharing a schema, as ``json.dumps`` prints them.

    The series are stacked (as for the flat Arrow form) and each column becomes the JSON
    text of its values (``json_rows.value_text``, shared with the SQL encoder); element-wise
    joins make each row's ``[a, b]`` and one list join each series' rows, so no Python runs
    per row. None for what only the row-by-row form prints like ``json.dumps``: non-ASCII
    text (``\\u`` escapes there), rare control characters, other types.
    """
    data = run[0].data if len(run) == 1 else _stacked(run)
    if data.num_rows == 0:
        return ["[]"] * len(run)
    parts = []
    for i in range(data.num_columns):
        text = _column_text(data.column(i).combine_chunks(), epoch)
        if text is None:
            return None
        parts.append(text.fill_null("null"))
    rows = pc.binary_join_element_wise(*parts, ", ")
    rows = pc.binary_join_element_wise("[", rows, "]", "")
    ends = np.cumsum([s.num_rows for s in run], dtype=np.int64)
    offsets = pa.array(np.concatenate(([0], ends)), pa.int32())
    series = pc.binary_join(pa.ListArray.from_arrays(offsets, rows), ", ")
    return pc.binary_join_element_wise("[", series, "]", "").to_pylist()


def _column_text(column: pa.Array, epoch: str | None) -> pa.Array | None:
    kind = column.type
    if pa.types.is_timestamp(kind):
        if column.null_count:
            return None
        if epoch is None:
            return value_text(pa.array(rfc3339(column), pa.string()))
        return pa.array(_time_values(column, epoch), pa.int64()).cast(pa.string())
    if pa.types.is_floating(kind):
        return value_text(pc.if_else(pc.is_finite(column), column, pa.scalar(None, kind)))
    column = decoded(column)
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if not pc.all(pc.string_is_ascii(column)).as_py():
            return None
        return value_text(column)
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_null(kind):
        return value_text(column)
    return None


def _series_text(series: Series, epoch: str | None, values: str | None) -> str:
    """One series as ``json.dumps(series_json(series, epoch))`` prints it."""
    if values is None:
        return json.dumps(series_json(series, epoch), allow_nan=False)
    head = series_json(series, epoch, values=False)
    items = [f"{json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in head.items()]
    return "{" + ", ".join([*items, f'"values": {values}']) + "}"


def _result_text(result: StatementResult, epoch: str | None) -> str:
    """One statement's entry of ``results``, its series encoded a run at a time."""
    if result.error is not None or not result.series:
        return json.dumps(result_json(result, epoch), allow_nan=False)
    texts = []
    for run in _runs(result.series):
        # A few long series print as fast row by row; many short ones do not.
        many = len(run) >= MANY_SERIES
        values: list[str] | list[None] = (values_texts(run, epoch) if many else None) or [
            None
        ] * len(run)
        texts += [_series_text(s, epoch, v) for s, v in zip(run, values, strict=True)]
    return f'{{"statement_id": {result.statement_id}, "series": [{", ".join(texts)}]}}'


def series_json(
    series: Series, epoch: str | None, partial: bool = False, values: bool = True
) -> dict[str, object]:
    """One series in the v1 JSON shape."""
    body: dict[str, object] = {}
    if series.name:
        body["name"] = series.name
    if series.tags:
        body["tags"] = series.tags
    body["columns"] = series.columns
    if values:
        body["values"] = series_values(series, epoch)
    if partial:
        body["partial"] = True
    return body


def result_json(result: StatementResult, epoch: str | None) -> dict[str, object]:
    """One statement's entry of ``results``."""
    body: dict[str, object] = {"statement_id": result.statement_id}
    if result.error is not None:
        body["error"] = result.error
    elif result.series:
        body["series"] = [series_json(s, epoch) for s in result.series]
    return body


def v1_json(results: list[StatementResult], epoch: str | None, pretty: bool = False) -> bytes:
    """The whole v1 ``/query`` answer."""
    if not pretty:
        return (
            '{"results": [' + ", ".join(_result_text(r, epoch) for r in results) + "]}"
        ).encode()
    body = {"results": [result_json(r, epoch) for r in results]}
    return json.dumps(body, indent=4, allow_nan=False).encode()


def v1_chunks(results: list[StatementResult], epoch: str | None, size: int) -> Iterator[bytes]:
    """``chunked=true``: one JSON object per line, series cut into ``size``-row chunks."""
    for result in results:
        if result.error is not None or not result.series:
            yield json.dumps({"results": [result_json(result, epoch)]}).encode() + b"\n"
            continue
        for n, series in enumerate(result.series):
            rows = series.data.num_rows
            starts = list(range(0, rows, size)) or [0]
            for k, start in enumerate(starts):
                part = Series(
                    series.name, series.tags, series.columns, series.data.slice(start, size)
                )
                last_chunk = k == len(starts) - 1
                entry: dict[str, object] = {
                    "statement_id": result.statement_id,
                    "series": [series_json(part, epoch, partial=not last_chunk)],
                }
                if not (last_chunk and n == len(result.series) - 1):
                    entry["partial"] = True
                yield json.dumps({"results": [entry]}, allow_nan=False).encode() + b"\n"


def v1_csv(results: list[StatementResult], epoch: str | None) -> bytes:
    """InfluxDB 1.x CSV: ``name,tags,time,...`` with epoch times (nanoseconds by default)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header: list[str] | None = None
    for result in results:
        for series in result.series:
            columns = ["name", "tags", *series.columns]
            if columns != header:
                if header is not None:
                    out.write("\n")
                writer.writerow(columns)
                header = columns
            tags = ",".join(f"{k}={v}" for k, v in series.tags.items())
            for row in series_values(series, epoch or "ns"):
                writer.writerow([series.name, tags, *("" if v is None else v for v in row)])
    return out.getvalue().encode()


def arrow_table(result: StatementResult) -> pa.Table:
    """All series of one statement as one flat Arrow table (InfluxDB 3's InfluxQL shape).

    Whole columns at a time: runs of series with the same columns and schema are
    concatenated once, and the measurement and tag columns are taken from one small
    array per run by each row's series number. The table is one chunk.
    """
    if not result.series:
        return pa.table({MEASUREMENT_COLUMN: pa.array([], pa.string())})
    tag_names = sorted({k for s in result.series for k in s.tags})
    tables = [_flat_run(run, tag_names) for run in _runs(result.series)]
    table = (
        tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
    )
    return table.combine_chunks()


def _runs(series: list[Series]) -> list[list[Series]]:
    """Consecutive series with the same columns and schema, which are encoded together."""
    runs: list[list[Series]] = []
    for s in series:
        last = runs[-1][0] if runs else None
        if last is not None and last.columns == s.columns and _same_schema(last, s):
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def _same_schema(a: Series, b: Series) -> bool:
    return (a.block is not None and a.block is b.block) or a.schema == b.schema


def _stacked(run: list[Series]) -> pa.Table:
    """The data of consecutive series: one slice, or one ``take``, of the table they share.

    Series cut from one query result are stacked back with a slice when they are
    neighbours in it, else (``ORDER BY time DESC`` reverses the series) with one take.
    """
    block = run[0].block
    if block is None or any(s.block is not block for s in run):
        return pa.concat_tables([s.data for s in run])
    starts = np.array([s.start for s in run], dtype=np.int64)
    lengths = np.array([s.num_rows for s in run], dtype=np.int64)
    if np.array_equal(starts[1:], starts[:-1] + lengths[:-1]):
        return block.slice(int(starts[0]), int(lengths.sum()))
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return block.take(pa.array(np.arange(int(lengths.sum()), dtype=np.int64) + offsets))


def _flat_run(run: list[Series], tag_names: list[str]) -> pa.Table:
    """Series with one schema, stacked, with their measurement and tag columns."""
    lengths = np.array([s.num_rows for s in run], dtype=np.int64)
    data = run[0].data if len(run) == 1 else _stacked(run)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        MEASUREMENT_COLUMN: _per_series([s.name for s in run], lengths)
    }
    names = list(run[0].columns)
    start = 0
    if names and pa.types.is_timestamp(data.schema.field(0).type):
        columns[names[0]] = data.column(0)
        start = 1
    for tag in tag_names:
        columns[tag] = _per_series([s.tags.get(tag) for s in run], lengths)
    for i in range(start, len(names)):
        column = decoded(data.column(i))
        columns[names[i] if names[i] not in columns else f"{names[i]}_{i}"] = column
    return pa.table(columns)


def _per_series(values: list[str | None], lengths: np.ndarray) -> pa.DictionaryArray:
    """A column holding each series' value on its rows, dictionary-encoded as in IOx.

    Each distinct value is stored (and later encoded) once, however many rows carry it.
    """
    distinct = sorted({v for v in values if v is not None})
    code: dict[str | None, int] = {v: i for i, v in enumerate(distinct)}
    codes = np.array([code.get(v, -1) for v in values], dtype=np.int32)
    rows = np.repeat(codes, lengths)
    indices = pa.array(rows, pa.int32(), mask=rows < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(distinct, pa.string()))
