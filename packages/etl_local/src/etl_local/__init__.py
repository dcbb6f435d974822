"""etl_local: run the whole system on one machine (development and tests only)."""
