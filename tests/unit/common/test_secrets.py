"""Generated passwords pass the usual password rules (a cloud with a PCI-DSS regex must start)."""

from __future__ import annotations

import re

import pytest

from litestack.common.secrets import new_password

pytestmark = pytest.mark.unit


def test_generated_passwords_have_a_digit_and_both_cases() -> None:
    rule = re.compile(r"^(?=.*\d)(?=.*[a-z])(?=.*[A-Z]).{8,}$")  # tests/functional/test_pci_dss.py's, stricter
    drawn = {new_password() for _ in range(2000)}
    assert len(drawn) == 2000
    assert all(rule.match(p) and len(p) == 24 for p in drawn)
