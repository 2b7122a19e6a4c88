"""The staff password policy, without a database."""

from __future__ import annotations

import pytest

from goodwill.team.service import MIN_PASSWORD_LENGTH, PasswordRejected, check_password, common_passwords


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-one", "at least 12"),
        ("Password1234", "commonly used"),
        ("QWERTYUIOP123", "commonly used"),
        ("ana.lopez@shop.test", "email"),
        ("ANA.LOPEZ@SHOP.TEST", "email"),
        ("x" * 1025, "at most"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(PasswordRejected, match=reason) as caught:
        check_password(password, email="ana.lopez@shop.test")
    assert password not in str(caught.value)


def test_a_long_uncommon_password_is_accepted() -> None:
    check_password("plum-orchard-lantern-7", email="ana@shop.test")
    check_password("ñandú en el jardín", email="ana@shop.test")


def test_the_shipped_list_is_loaded_and_only_holds_entries_the_length_rule_lets_through() -> None:
    words = common_passwords()
    assert len(words) > 1000
    assert all(len(w) >= MIN_PASSWORD_LENGTH for w in words)
    assert "password1234" in words
