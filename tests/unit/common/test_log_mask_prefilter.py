"""The cheap word test before the secret regex never lets a secret through that the regex masks."""

from __future__ import annotations

import pytest

from litestack.common import log

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text", [
    "password=hunter2",
    'body {"PassWord": "hunter2"}',
    "original_password: 'x'",
    "X-Auth-Token: gAAAAAB",
    "x-subject-token=abc",
    "passcode=123456",
    "secret = s3cr3t",
    "receipt=r1",
    "pa\u017fsword=hunter2",  # long s: the regex ignores case the Unicode way
    "to\u212aen=abc",  # Kelvin sign
    "rece\u0131pt=r1",  # dotless i
    "rece\u0130pt=r1",  # dotted capital I
])
def test_every_secret_the_regex_finds_is_masked(text: str) -> None:
    assert log._SECRET.search(text)
    assert log.mask(text) == log._SECRET.sub(r"\1***", text) != text


def test_an_access_line_is_left_alone() -> None:
    line = "GET /identity/v3/domains/abc 200 1.2ms user=u1 project=p1"
    assert log.mask(line) == line
