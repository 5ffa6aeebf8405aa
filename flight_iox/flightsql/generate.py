"""Regenerate the Flight SQL message classes from ``proto/FlightSql.proto``.

Run ``python -m flight_iox.flightsql.generate`` after editing the ``.proto``.
The output is committed; ``tests/unit/flightsql/test_generated_current.py``
fails when it no longer matches what grpcio-tools produces. The generated
code pins a minimum protobuf runtime, so grpcio-tools and protobuf are pinned
together in ``pyproject.toml``.
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROTO_DIR = PACKAGE_DIR / "proto"
GENERATED_DIR = PACKAGE_DIR / "generated"
PROTO_FILE = "FlightSql.proto"
GENERATED_FILES = ("FlightSql_pb2.py", "FlightSql_pb2.pyi")


def generate(out_dir: Path = GENERATED_DIR) -> list[Path]:
    """Compile the proto into ``out_dir``; return the files written.

    Only message classes are generated (no gRPC stubs): pyarrow.flight owns
    the transport, and Flight SQL rides inside Flight's own messages.
    """
    from grpc_tools import protoc  # only a development dependency

    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_DIR}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        str(PROTO_DIR / PROTO_FILE),
    ]
    status = protoc.main(args)
    if status != 0:
        raise RuntimeError(f"protoc failed with status {status} on {PROTO_DIR / PROTO_FILE}")
    return [out_dir / name for name in GENERATED_FILES]


def main() -> int:
    """Command-line entry point."""
    for path in generate():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
