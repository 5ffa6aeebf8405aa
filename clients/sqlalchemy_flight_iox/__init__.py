"""SQLAlchemy dialect for flight-iox (to come)."""
