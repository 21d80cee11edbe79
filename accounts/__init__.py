"""Personal carbon accounts (个人碳账户): pseudonymous accounts fed by registered data sources, a
versioned behaviour methodology, an append-only double-entry points ledger with its own anchored
RFC 9162 log, and rights exchange (权益兑换). See docs/accounts.md."""
