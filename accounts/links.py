"""Signed statement links: the app hands a person a URL that shows their statement without a login.

A token is `<account id>.<expires at>.<mac>`, the mac an HMAC-SHA256 (base64url, unpadded) of the
account id and the expiry under the link key (accounts/settings.py). It names nothing about the
person (the account id is pseudonymous) and cannot be altered without the key: a changed account
or a later expiry no longer matches its mac. Pure functions: the key and the clock are arguments."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

PURPOSE = b"ledger accounts statement link v1\x1f"
ACCOUNT = re.compile(r"acc_[a-z2-7]{26}")  # accounts.people's id: "acc_" + 26 base32 characters
MAX_TOKEN = 120  # acc_ + 26, an expiry of 10 digits, 43 of mac, two dots: 84; room to spare, no more


class LinkError(ValueError):
    """A token that does not open a statement; the message says why and what to do, never the key."""


class LinkForgedError(LinkError):
    pass


class LinkExpiredError(LinkError):
    pass


def _mac(key: bytes, account: str, expires_at: int) -> str:
    digest = hmac.new(key, PURPOSE + f"{account}\x1f{expires_at}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(key: bytes, account: str, expires_at: int) -> str:
    """The token for `account`'s statement, valid until `expires_at` (unix seconds)."""
    if not ACCOUNT.fullmatch(account):
        raise LinkError(f"{account!r} is not an account id (acc_ and 26 base32 characters)")
    if expires_at < 0:
        raise LinkError("a link's expiry is a unix time in seconds")
    return f"{account}.{expires_at}.{_mac(key, account, expires_at)}"


def verify(key: bytes, token: str, now: int) -> tuple[str, int]:
    """The account a token opens and when it lapses; LinkForgedError for anything not signed with
    `key`, LinkExpiredError for a signed token past its expiry (checked after the mac, so an altered
    expiry reads as forged, never as expired)."""
    forged = LinkForgedError("this statement link is not valid (altered or not issued here); ask the app for a new one")
    if len(token) > MAX_TOKEN:
        raise forged
    account, _, rest = token.partition(".")
    expiry, _, mac = rest.partition(".")
    if not ACCOUNT.fullmatch(account) or not expiry.isascii() or not expiry.isdigit() or len(expiry) > 12:
        raise forged
    expires_at = int(expiry)
    if str(expires_at) != expiry:  # one spelling per token: "0123" is not the "123" that was signed
        raise forged
    if not hmac.compare_digest(mac.encode(), _mac(key, account, expires_at).encode()):
        raise forged
    if now >= expires_at:
        raise LinkExpiredError("this statement link has expired; ask the app for a new one")
    return account, expires_at
