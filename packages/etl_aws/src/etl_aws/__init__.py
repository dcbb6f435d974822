"""etl_aws: everything that touches AWS, shared by every handler. Handlers call one function here."""
