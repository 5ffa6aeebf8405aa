"""The ``partition_template`` of a create request (database or table), read once at the edge."""

from __future__ import annotations

from flight_iox.errors import BadRequestError
from iox_catalog.partition_template import template_partition_by
from iox_catalog.partitioning import PartitioningError


def requested_partition_by(params: dict[str, object]) -> list[str] | None:
    """The spec words a request's ``partition_template`` asks for (None: it has none).

    A template of the wrong shape is a ``BadRequestError`` naming the part that is wrong;
    whether its tags are tags of the table is checked when the spec is built.
    """
    template = params.get("partition_template")
    if template is None:
        return None
    try:
        return template_partition_by(template)
    except PartitioningError as error:
        raise BadRequestError(str(error)) from None
