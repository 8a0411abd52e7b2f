"""Documents: what every input becomes (orders, invoices, returns and
corrections, redemptions), their storage and status transitions."""
