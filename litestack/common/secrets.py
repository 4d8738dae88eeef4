"""The cloud's generated passwords, in ``DATA_DIR/secrets.json`` (mode 0600).

Chosen on the first start and kept: the admin and demo users' passwords, and one for the
service user of every service that calls other services (DevStack's ``glance``, ``nova``, …).
Identity's bootstrap creates the users with these passwords; each service reads its own here
to get the service token it validates user tokens with.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Credentials:
    admin_password: str
    demo_password: str
    service_passwords: dict[str, str]


def new_password() -> str:
    """A generated password: 24 URL-safe characters with at least one digit, one lower-case and one
    upper-case letter, so that it passes the usual ``[security_compliance] password_regex``
    (a random draw lacks a digit about one time in sixty)."""
    while True:
        candidate = secrets.token_urlsafe(18)
        if (any(c.isdigit() for c in candidate) and any(c.islower() for c in candidate)
                and any(c.isupper() for c in candidate)):
            return candidate


def load_or_create(data_dir: Path, admin_password: str = "", service_users: Iterable[str] = ()) -> Credentials:
    """Read the secrets, adding any that are missing (a new service user, say), and save them."""
    path = data_dir / "secrets.json"
    data: dict[str, Any] = {}
    if path.exists():
        data = json.loads(path.read_text())
    changed = False
    for key in ("admin_password", "demo_password"):
        if not data.get(key):
            data[key] = new_password()
            changed = True
    if admin_password and data["admin_password"] != admin_password:
        data["admin_password"] = admin_password
        changed = True
    services: dict[str, str] = data.setdefault("service_passwords", {})
    for user in service_users:
        if not services.get(user):
            services[user] = new_password()
            changed = True
    if changed or not path.exists():
        save(data_dir, data)
    return Credentials(data["admin_password"], data["demo_password"], services)


def save(data_dir: Path, data: dict[str, Any]) -> Credentials:
    """Write the secrets (atomically, mode 0600); e.g. those another host chose, from the shared store."""
    path = data_dir / "secrets.json"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)
    return Credentials(data["admin_password"], data["demo_password"], dict(data.get("service_passwords", {})))


def service_password(data_dir: Path, user: str) -> str:
    """The password of one service user (KeyError when bootstrap has not made it yet)."""
    data = json.loads((data_dir / "secrets.json").read_text())
    password: str = data["service_passwords"][user]
    return password
