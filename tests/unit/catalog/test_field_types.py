"""``FieldType`` is the one table of field types: its columns agree with the libraries'."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.io.pyarrow import pyarrow_to_schema
from pyiceberg.table.name_mapping import MappedField, NameMapping

from iox_catalog.schema import column_kinds, decode_kinds, encode_kinds, file_schema
from iox_datamodel.columns import TAG_TYPE, TIME_TYPE, ColumnRole, FieldType, role_field


@pytest.mark.parametrize("kind", list(FieldType))
def test_iceberg_type_is_what_pyiceberg_makes_of_the_file_type(kind: FieldType) -> None:
    schema = file_schema({"v": kind})
    iceberg = pyarrow_to_schema(schema, name_mapping=_names(schema))
    assert str(iceberg.find_field("v").field_type) == kind.iceberg_type


@pytest.mark.parametrize("kind", list(FieldType))
def test_every_type_maps_back_to_itself(kind: FieldType) -> None:
    assert FieldType.of_arrow(kind.arrow_type) is kind
    assert FieldType.widening(kind.arrow_type) is kind


@pytest.mark.parametrize(
    ("data_type", "kind"),
    [
        (pa.float16(), FieldType.FLOAT),
        (pa.float32(), FieldType.FLOAT),
        (pa.int8(), FieldType.INTEGER),
        (pa.uint32(), FieldType.UNSIGNED),
        (pa.large_string(), FieldType.STRING),
        (pa.string_view(), FieldType.STRING),
        (pa.binary(), None),
        (pa.timestamp("ns"), None),
    ],
)
def test_widening_accepts_every_width(data_type: pa.DataType, kind: FieldType | None) -> None:
    assert FieldType.widening(data_type) is kind


def test_kinds_are_enums_and_their_json_is_unchanged() -> None:
    schema = pa.schema(
        [
            role_field("host", TAG_TYPE, ColumnRole.TAG),
            role_field("u", pa.uint64(), ColumnRole.FIELD),
            role_field("time", TIME_TYPE, ColumnRole.TIME),
        ]
    )
    kinds = column_kinds(schema)
    assert kinds == {"host": ColumnRole.TAG, "u": FieldType.UNSIGNED}
    text = encode_kinds(kinds)
    assert text == '{"host":"tag","u":"unsigned"}'
    assert decode_kinds(text) == kinds
    assert all(isinstance(k, ColumnRole | FieldType) for k in decode_kinds(text).values())


def _names(schema: pa.Schema) -> NameMapping:
    """Field ids for a schema written without them (as PyIceberg assigns on create)."""
    return NameMapping([MappedField(field_id=i + 1, names=[f.name]) for i, f in enumerate(schema)])
