"""Staff accounts on both databases: creation, password checks, API tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from goodwill.db import Database
from goodwill.team.model import User
from goodwill.team.service import (
    PasswordRejected,
    UserExists,
    authenticate,
    create_api_token,
    create_user,
    token_hash,
    user_for_api_token,
)
from goodwill.web.model import ApiToken

PASSWORD = "plum-orchard-lantern-7"


def test_create_user_hashes_with_argon2_and_normalises_the_email(db: Database) -> None:
    with db.transaction() as s:
        user = create_user(
            session=s, email=" Ana@Shop.TEST ", role="manager", password=PASSWORD, name="Ana Núñez"
        )
    with db.reading() as s:
        stored = s.scalars(select(User)).one()
        assert stored.email == "ana@shop.test" and stored.name == "Ana Núñez" and stored.id == user.id
        assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash


def test_duplicates_roles_and_weak_passwords_are_refused(db: Database) -> None:
    with db.transaction() as s:
        create_user(session=s, email="ana@shop.test", role="agent", password=PASSWORD)
    with pytest.raises(UserExists, match="already exists"), db.transaction() as s:
        create_user(session=s, email="ANA@shop.test", role="agent", password=PASSWORD)
    with pytest.raises(ValueError, match="unknown role"), db.transaction() as s:
        create_user(session=s, email="bo@shop.test", role="owner", password=PASSWORD)
    with pytest.raises(PasswordRejected), db.transaction() as s:
        create_user(session=s, email="bo@shop.test", role="agent", password="iloveyou1234")
    with pytest.raises(ValueError, match="not an email"), db.transaction() as s:
        create_user(session=s, email="bo", role="agent", password=PASSWORD)


def test_authenticate(db: Database) -> None:
    with db.transaction() as s:
        create_user(session=s, email="ana@shop.test", role="agent", password=PASSWORD)
    with db.transaction() as s:
        found = authenticate(session=s, email="ANA@shop.test", password=PASSWORD)
        assert found is not None and found.email == "ana@shop.test"
        assert authenticate(session=s, email="ana@shop.test", password=PASSWORD + "x") is None
        assert authenticate(session=s, email="nobody@shop.test", password=PASSWORD) is None
        found.active = False
    with db.transaction() as s:
        assert authenticate(session=s, email="ana@shop.test", password=PASSWORD) is None


def test_api_tokens_are_random_and_only_their_hash_is_kept(db: Database) -> None:
    with db.transaction() as s:
        user = create_user(session=s, email="ana@shop.test", role="agent", password=PASSWORD)
        one = create_api_token(session=s, user_id=user.id, name="shop webhook")
        two = create_api_token(session=s, user_id=user.id, name="shop webhook")
    assert one != two and len(one) > 40
    with db.transaction() as s:
        hashes = set(s.scalars(select(ApiToken.token_hash)).all())
        assert hashes == {token_hash(one), token_hash(two)}
        owner = user_for_api_token(session=s, token=one)
        assert owner is not None and owner.email == "ana@shop.test"
        assert user_for_api_token(session=s, token=one + "x") is None
    with pytest.raises(ValueError, match="needs a name"), db.transaction() as s:
        create_api_token(session=s, user_id=user.id, name="  ")


def test_set_password_applies_the_policy_and_ends_browser_sessions(db: Database) -> None:
    from goodwill.team.service import set_password
    from goodwill.web.auth import start_session
    from goodwill.web.model import WebSession

    with db.transaction() as s:
        user = create_user(session=s, email="ana@shop.test", role="agent", password=PASSWORD)
        start_session(s, user_id=user.id, hours=1)
    with pytest.raises(PasswordRejected), db.transaction() as s:
        set_password(session=s, email="ana@shop.test", password="password1234")
    with db.transaction() as s:
        set_password(session=s, email="ana@shop.test", password="a whole new sentence")
    with db.transaction() as s:
        assert authenticate(session=s, email="ana@shop.test", password="a whole new sentence") is not None
        assert authenticate(session=s, email="ana@shop.test", password=PASSWORD) is None
        assert s.scalars(select(WebSession)).all() == []
