"""What ``litestack verify`` writes into tempest.conf for the identity service."""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from typing import Any

from litestack.common.config import Config


def state(conf: Config) -> dict[str, Any]:
    """The identity settings recorded in state.json for ``litestack verify``.

    ``security_compliance`` is true when any PCI-DSS option of ``[identity]`` is on;
    ``minimum_password_age`` is in days, as in the config and in tempest.
    """
    ident = conf.section("identity")
    compliance = (ident["lockout_failure_attempts"] > 0 or ident["password_expires_days"] > 0
                  or ident["unique_last_password_count"] > 1 or ident["minimum_password_age"] > 0
                  or bool(ident["password_regex"]) or bool(ident["change_password_upon_first_use"])
                  or ident["disable_user_account_days_inactive"] > 0)
    return {"security_compliance": compliance,
            "lockout_failure_attempts": ident["lockout_failure_attempts"],
            "lockout_duration": ident["lockout_duration"],
            "unique_last_password_count": ident["unique_last_password_count"],
            "minimum_password_age": ident["minimum_password_age"],
            "trust": True}  # OS-TRUST is part of the identity API, with no switch


def settings(recorded: Any) -> dict[str, Any] | None:
    """What ``state`` recorded, checked: None when absent (an old state file); a missing key is off."""
    if not isinstance(recorded, Mapping):
        return None

    def number(key: str) -> int:
        value = recorded.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return {"security_compliance": recorded.get("security_compliance") is True,
            "trust": recorded.get("trust") is True,
            "lockout_failure_attempts": number("lockout_failure_attempts"),
            "lockout_duration": number("lockout_duration"),
            "unique_last_password_count": number("unique_last_password_count"),
            "minimum_password_age": number("minimum_password_age")}


def configure(conf: configparser.ConfigParser, recorded: Any, cloud: Mapping[str, Any],
              state: Mapping[str, Any]) -> None:
    """The ``[identity]`` and ``[identity-feature-enabled]`` sections for the running cloud."""
    conf["identity"] = {
        "catalog_type": "identity",
        "uri_v3": str(state["auth_url"]).rstrip("/") + "/v3",
        "auth_version": "v3",
        "region": str(cloud.get("region_name") or "RegionOne"),
        "v3_endpoint_type": "public",
        "disable_ssl_certificate_validation": "true",
        "admin_role": "admin",
        "default_domain_id": "default",
    }
    # The cloud's PCI-DSS settings, as state.json records them (tempest 47 has no option for
    # password expiry, password_regex or change_password_upon_first_use).
    ident = settings(recorded)
    if ident is not None:
        conf["identity"].update({
            "user_lockout_failure_attempts": str(ident["lockout_failure_attempts"]),
            "user_lockout_duration": str(ident["lockout_duration"]),
            "user_unique_last_password_count": str(ident["unique_last_password_count"]),
            "user_minimum_password_age": str(ident["minimum_password_age"]),  # days, in both
        })
    # Options tempest 47 knows; application credentials and project tags have no flag any more
    # (their tests always run).
    conf["identity-feature-enabled"] = {
        "api_v2": "false",
        "api_v3": "true",
        "access_rules": "true",
        "trust": _bool(ident is not None and ident["trust"]),
        "domain_specific_drivers": "false",
        "security_compliance": _bool(ident is not None and ident["security_compliance"]),
    }


def _bool(value: bool) -> str:
    return "true" if value else "false"
