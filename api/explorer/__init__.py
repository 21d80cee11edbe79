"""A built-in chain explorer at /explorer: blocks, transactions with their decoded registry events
and revert reasons, addresses, batches and search, read from the node over JSON-RPC (never from the
SQL mirror), so an auditor can check the registry independently of our database.

`node` reads the chain, `pages` renders HTML, `routes` serves it (`routes.router`)."""
