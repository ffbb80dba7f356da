"""Basic authentication for the Prometheus programs (node exporter, Prometheus itself): their
`--web.config.file` (the exporter toolkit's format) holds a bcrypt hash, never the password.

The salt is derived from the password, so that the same password renders the same file and a second
deploy changes nothing; a different password gives a different salt.
"""

from hashlib import sha256

import bcrypt

USER = "prometheus"  # the user Prometheus sends; one per fleet, the password is what is secret
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_COST = 10  # the hash is checked on scrapes: kept cheap


def password_hash(password: str) -> str:
    digest = sha256(b"thorfleet web.config salt\0" + password.encode()).digest()
    salt = "".join(_BCRYPT_ALPHABET[b % 64] for b in digest[:21]) + "."  # 22 chars; the last carries 2 bits
    return bcrypt.hashpw(password.encode(), f"$2b${_COST:02d}${salt}".encode()).decode()


def web_config(password: str) -> str:
    return f"# thorfleet: basic authentication of this endpoint (user {USER}).\nbasic_auth_users:\n  {USER}: '{password_hash(password)}'\n"
