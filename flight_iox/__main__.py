"""``python -m flight_iox`` runs the CLI."""

from flight_iox.cli.main import cli

cli()
