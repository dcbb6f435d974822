"""etl_ops: the operator CLI (`etl`)."""
