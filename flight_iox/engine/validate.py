"""Validate parsed line protocol against a table's schema, vectorised.

A line is rejected, with a message naming the column and both types or roles,
when it would give a column a second type or role, uses ``time`` as a tag or
field name, or would push a table over its column limit. Checks run per column
as boolean masks over all rows; only the rejected rows are visited one by one,
to build their error messages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flight_iox.columns import TAG_TYPE, TIME_COLUMN, TIME_TYPE, ColumnRole, FieldType, role_field
from flight_iox.engine.catalog import Column, TableSchema
from flight_iox.ingest import MeasurementBatch
from flight_iox.names import identifier_problem


@dataclass(frozen=True)
class ValidatedTable:
    """The accepted rows of one measurement, ready for the WAL, and what was rejected."""

    table: str
    batch: pa.RecordBatch | None
    new_columns: dict[str, Column]
    rejected: list[tuple[int, str]]


class _Rejections:
    """First reason per row wins; reasons are kept as (mask, message) pairs."""

    def __init__(self, rows: int) -> None:
        self.reason = np.full(rows, -1, dtype=np.int32)
        self.messages: list[str] = []

    def add(self, mask: np.ndarray, message: str) -> None:
        hit = mask & (self.reason < 0)
        if hit.any():
            self.reason[hit] = len(self.messages)
            self.messages.append(message)

    def rejected_mask(self) -> np.ndarray:
        return self.reason >= 0


def _present(array: pa.Array) -> np.ndarray:
    return pc.is_valid(array).to_numpy(zero_copy_only=False)


def _type_name(data_type: pa.DataType) -> str:
    return str(FieldType.of_arrow(data_type) or data_type)


def _describe(column: Column) -> str:
    if column.role is ColumnRole.FIELD:
        return f"a field of type {_type_name(column.data_type)}"
    return f"a {column.role.value}"


def validate_measurement(
    batch: MeasurementBatch,
    existing: TableSchema | None,
    *,
    max_columns: int,
    table_problem: str | None = None,
) -> ValidatedTable:
    """Check one measurement's rows against its table; return accepted rows and new columns."""
    table = batch.measurement
    rows = len(batch.time)
    rejections = _Rejections(rows)
    all_rows = np.ones(rows, dtype=bool)
    if table_problem:
        rejections.add(all_rows, table_problem)
    if problem := identifier_problem(table):
        rejections.add(all_rows, f"invalid table name: {problem}")
    known = existing.columns if existing else {}
    new_columns: dict[str, Column] = {}
    # Masks and first rows are made only for the columns a check rejects: most have none.
    for name, array in batch.tags.items():
        if name == TIME_COLUMN:
            rejections.add(
                _present(array), 'tag key "time" is not allowed: time is the timestamp column'
            )
        elif problem := identifier_problem(name):
            rejections.add(_present(array), f"invalid tag key: {problem}")
        elif (col := known.get(name)) is not None and col.role is not ColumnRole.TAG:
            rejections.add(
                _present(array),
                f'column "{name}" of table "{table}" is {_describe(col)}; line has a tag',
            )
        elif (
            name in batch.fields
            and col is None
            and _first_row(array) > _first_row(batch.fields[name])
        ):
            rejections.add(
                _present(array), f'column "{name}" is a field in earlier lines; line has a tag'
            )
        elif col is None:
            new_columns[name] = Column(ColumnRole.TAG, TAG_TYPE)

    for name, array in batch.fields.items():
        line_has = f"a field of type {_type_name(array.type)}"
        if name == TIME_COLUMN:
            rejections.add(
                _present(array), 'field key "time" is not allowed: time is the timestamp column'
            )
        elif problem := identifier_problem(name):
            rejections.add(_present(array), f"invalid field key: {problem}")
        elif (col := known.get(name)) is not None and (
            col.role is not ColumnRole.FIELD or col.data_type != array.type
        ):
            what = "field type conflict" if col.role is ColumnRole.FIELD else "column role conflict"
            rejections.add(
                _present(array),
                f'{what} on column "{name}" of table "{table}": line has {line_has}, '
                f"table has {_describe(col)}",
            )
        elif name in batch.tags and col is None and name not in new_columns:
            new_columns[name] = Column(ColumnRole.FIELD, array.type)
        elif name in batch.tags and col is None:
            rejections.add(
                _present(array), f'column "{name}" is a tag in earlier lines; line has a field'
            )
        elif col is None:
            new_columns[name] = Column(ColumnRole.FIELD, array.type)

    _check_column_limit(batch, known, new_columns, max_columns, rejections)
    return _accepted(batch, rejections, known, new_columns)


def _first_row(array: pa.Array) -> int:
    index = pc.index(pc.is_valid(array), True).as_py()
    return len(array) if index < 0 else index


def _check_column_limit(
    batch: MeasurementBatch,
    known: dict[str, Column],
    new_columns: dict[str, Column],
    max_columns: int,
    rejections: _Rejections,
) -> None:
    room = max_columns - max(len(known), 1)
    if len(new_columns) <= room:
        return
    table = batch.measurement
    for name in list(new_columns)[max(room, 0) :]:
        array = batch.tags.get(name) if name in batch.tags else batch.fields[name]
        rejections.add(
            _present(array),
            f'adding column "{name}" would exceed the limit of {max_columns} columns '
            f'in table "{table}"',
        )


def _accepted(
    batch: MeasurementBatch,
    rejections: _Rejections,
    known: dict[str, Column],
    new_columns: dict[str, Column],
) -> ValidatedTable:
    rejected_mask = rejections.rejected_mask()
    rejected_rows = np.flatnonzero(rejected_mask)
    line_numbers = batch.line_numbers.to_numpy(zero_copy_only=False)
    rejected = [
        (int(line_numbers[i]), rejections.messages[rejections.reason[i]]) for i in rejected_rows
    ]
    if len(rejected_rows) == len(rejected_mask):
        return ValidatedTable(batch.measurement, None, {}, rejected)
    keep = pa.array(~rejected_mask) if len(rejected_rows) else None

    def kept(array: pa.Array) -> pa.Array:
        return array.filter(keep) if keep is not None else array

    columns: dict[str, tuple[pa.Array, ColumnRole]] = {}
    roles = {**known, **new_columns}
    for name, array in (*batch.tags.items(), *batch.fields.items()):
        column = roles.get(name)
        if column is None or name == TIME_COLUMN:
            continue
        role = column.role
        if (role is ColumnRole.TAG) != (name in batch.tags and array is batch.tags.get(name)):
            continue
        values = kept(array)
        if values.null_count == len(values):
            continue
        columns[name] = (pc.dictionary_encode(values) if role is ColumnRole.TAG else values, role)
    time_values = kept(batch.time).cast(pa.int64()).view(TIME_TYPE)
    names = sorted(columns)
    fields = [role_field(n, columns[n][0].type, columns[n][1]) for n in names]
    fields.append(role_field(TIME_COLUMN, TIME_TYPE, ColumnRole.TIME))
    record_batch = pa.record_batch(
        [columns[n][0] for n in names] + [time_values], schema=pa.schema(fields)
    )
    used_new = {n: c for n, c in new_columns.items() if n in columns}
    return ValidatedTable(batch.measurement, record_batch, used_new, rejected)
