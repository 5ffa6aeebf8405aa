"""IOx's partition templates: ``{"time": "hour", "tags": ["region"], "buckets": {"host": 16}}``.

A template is another spelling of a partition spec (``partition_specs.py``): the time
granularity becomes ``hour(time)``/``day(time)``/``month(time)``, each tag an identity
part, each bucket ``bucket(N, tag)``. It is checked here for shape (a 400 names the
part); whether its tags are tags of the table is checked against the table's columns
when the spec is built.

A database's default template is kept as a property of its Iceberg namespace, so every
server sharing the catalog applies it. A table created without a template of its own (by
``POST /api/v3/configure/table`` or by its first write) takes the default's time part and
those tag parts whose column is a tag of the new table: a write must never be refused
because the default names a tag its table does not have.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from iox_catalog.partition_specs import MAX_BUCKETS, parse_partition_by
from iox_catalog.partitioning import PartitioningError
from iox_catalog.schema import ColumnKinds
from iox_datamodel.columns import TIME_COLUMN

# The namespace property holding a database's default spec, as a JSON list of spec words.
DEFAULT_TEMPLATE_PROPERTY = "iox.partition-template"
TIME_GRANULARITIES = ("hour", "day", "month")
_KEYS = frozenset({"time", "tags", "buckets"})


def template_partition_by(template: object) -> list[str]:
    """The spec words (``["hour(time)", "region", "bucket(16, host)"]``) of a template.

    ``PartitioningError`` names the part of the template that is wrong.
    """
    if not isinstance(template, Mapping):
        raise PartitioningError(
            'partition_template must be an object like {"time": "day", "tags": [...], '
            '"buckets": {"tag": N}}'
        )
    unknown = sorted(str(key) for key in template if key not in _KEYS)
    if unknown:
        raise PartitioningError(
            f"partition_template has unknown key(s) {', '.join(unknown)}: "
            "expected time, tags, buckets"
        )
    time = template.get("time", "day")
    if time not in TIME_GRANULARITIES:
        raise PartitioningError(
            f"partition_template.time is {time!r}: expected one of {', '.join(TIME_GRANULARITIES)}"
        )
    words = [f"{time}({TIME_COLUMN})"]
    tags = template.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise PartitioningError("partition_template.tags must be a list of tag names")
    words += tags
    buckets = template.get("buckets", {})
    if not isinstance(buckets, Mapping):
        raise PartitioningError('partition_template.buckets must be an object like {"host": 16}')
    for tag, count in buckets.items():
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_BUCKETS:
            raise PartitioningError(
                f"partition_template.buckets.{tag} is {count!r}: "
                f"expected a number of buckets in 1..{MAX_BUCKETS}"
            )
        if tag in tags:
            raise PartitioningError(
                f"partition_template names {tag!r} both as a tag and in buckets; keep one"
            )
        words.append(f'bucket({count}, "{tag}")')
    if len(set(words)) != len(words):
        raise PartitioningError("partition_template names a tag twice")
    return words


def encode_default(partition_by: Sequence[str]) -> str:
    """A database default as its namespace property's value."""
    return json.dumps(list(partition_by))


def decode_default(properties: Mapping[str, str]) -> list[str] | None:
    """A namespace's default spec words (None: it has no default)."""
    text = properties.get(DEFAULT_TEMPLATE_PROPERTY)
    if not text:
        return None
    words = json.loads(text)
    return [str(word) for word in words]


def inherited(partition_by: Sequence[str], kinds: ColumnKinds) -> list[str]:
    """The parts of a database default that apply to a new table of these columns.

    Time parts always do; a tag part only when its column is a tag of the table.
    """
    kept = []
    for word in partition_by:
        try:
            parse_partition_by([word], kinds)
        except PartitioningError:
            continue  # a tag the new table lacks (or holds as a field)
        kept.append(word)
    return kept
