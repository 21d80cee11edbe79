"""`ledger audit`: the registry recomputed from the chain alone, compared with the SQL mirror,
the certificates, the transparency log and the public API."""
