"""The ``flight-iox`` command line."""
