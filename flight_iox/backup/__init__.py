"""Backups: a consistent snapshot of a running server, and a fresh node restored from one.

``manifest`` is the format, ``location`` the folder or S3 prefix a backup lives in,
``take`` copies a running engine's files out, ``restore`` builds a new data folder.
"""
