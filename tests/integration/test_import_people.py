"""``import_people`` from CSV on both backends: create, update, consent, facts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from goodwill.config import Business
from goodwill.db import Database
from goodwill.events.importers.service import import_people
from goodwill.people import service as people
from goodwill.people.model import Person, PersonIdentity
from goodwill.people.service import PersonRecord

BUSINESS = Business(timezone="Europe/Paris", currency="EUR")
HEADER = (
    "email,external_id,name,preferred_name,phone,address_line1,city,postal_code,country,"
    "preferred_channel,time_zone,kind,consent_email,consent_sms,facts\n"
)


def test_people_file(db: Database, tmp_path: Path) -> None:
    with db.transaction() as s:
        [known], _ = people.resolve_people(s, [PersonRecord(name="Jose", email="jose@example.com")])
        people.record_consent(s, person_id=known, channel="email", granted=False, source="asked us to stop")
    path = tmp_path / "people.csv"
    path.write_text(
        HEADER
        + "zoe@example.com,crm:17,Zoë Martin,Zo,+33 6 12,1 rue X,Paris,'07302,FR,card,Europe/Paris,customer,"
        "yes,no,Loves oolong; Has a cat named Miso\n"  # 2 new
        + "JOSE@example.com,,José Álvarez,Pepe,,,,,,,,,yes,yes,\n"  # 3 known: updated, email stays revoked
        + "wang@example.cn,,王芳,,,,,,,,Asia/Shanghai,,,,\n"  # 4 new
        + ",crm:17,,,,,Lyon,,,,,,,,Moved to Lyon\n"  # 5 same person as line 2 (external id)
        + ",,Nobody,,,,,,,,,,,,\n"  # 6 no key
        + "bad@,,Bad,,,,,,,,,,,,\n"  # 7 malformed email
        + "t@example.com,,T,,,,,,,pigeon,,,,,\n"  # 8 unknown channel
        + "u@example.com,,U,,,,,,,,Mars/Olympus,,,,\n"  # 9 unknown zone
        + "v@example.com,,V,,,,,,,,,,maybe,,\n",  # 10 bad consent
        encoding="utf-8",
    )
    with db.transaction() as s:
        report = import_people(session=s, path=path, business=BUSINESS)
    assert report.to_json() == {
        "rows": 9,
        "orders": 0,
        "events": 0,
        "people": 2,
        "duplicates": 2,
        "rejected": [
            {"line": 6, "reason": "missing email (or external_id)"},
            {"line": 7, "reason": "email 'bad@' is not a valid address (bad domain after the @)"},
            {"line": 8, "reason": "preferred_channel 'pigeon' is not one of email, sms, card, call"},
            {"line": 9, "reason": "time_zone 'Mars/Olympus' is not an IANA time zone like Europe/Paris"},
            {"line": 10, "reason": "consent_email 'maybe' is not yes or no"},
        ],
    }
    assert report.rows == report.people + report.duplicates + len(report.rejected)
    assert report.updated_people == 2
    with db.reading() as s:
        zoe = people.get_person(s, "zoe@example.com")
        assert (zoe.name, zoe.preferred_name, zoe.kind, zoe.postal_code) == (
            "Zoë Martin",
            "Zo",
            "customer",
            "07302",
        )
        assert (zoe.city, zoe.preferred_channel, zoe.time_zone) == ("Lyon", "card", "Europe/Paris")
        assert s.scalar(select(PersonIdentity.person_id).where(PersonIdentity.namespace == "crm")) == zoe.id
        assert [f.text for f in people.facts(s, zoe.id)] == [
            "Has a cat named Miso",
            "Loves oolong",
            "Moved to Lyon",
        ]
        consent = people.current_consent(s, zoe.id)
        assert (consent["email"]["granted"], consent["sms"]["granted"]) == (True, False)
        jose = people.get_person(s, known)
        assert (jose.name, jose.preferred_name) == ("José Álvarez", "Pepe")
        assert people.current_consent(s, known)["email"]["granted"] is False  # never re-granted by a file
        assert people.current_consent(s, known)["sms"]["granted"] is True  # nothing on record: recorded
        assert people.get_person(s, "wang@example.cn").name == "王芳"
        assert people.search_people(s, query="pepe")[1] == 1  # the search key follows the update

    with db.transaction() as s:
        again = import_people(session=s, path=path, business=BUSINESS)
    assert (again.people, again.duplicates, again.updated_people, len(again.rejected)) == (0, 4, 0, 5)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 3
        assert len(people.facts(s, people.get_person(s, "zoe@example.com").id)) == 3
