"""The certificate transparency log: an append-only RFC 9162 Merkle log kept in SQL."""

from certificates.translog.log import TransparencyLog

__all__ = ["TransparencyLog"]
