"""The relationship bank: every event is a deposit or a withdrawal of goodwill.

Entry points for the rest of Goodwill:

- ``goodwill.bank.service.refresh_people(session=..., person_ids=...)`` after storing events, or
  ``refresh_appended(session=..., event=...)`` after storing one;
- ``goodwill.bank.rebuild.rebuild(session=...)`` after a rules change;
- ``goodwill.bank.statements.statement(session=..., person_ref=...)`` for the person page;
- ``goodwill.bank.cli.bank_app``, ``goodwill.bank.api.router``, ``goodwill.bank.pages.router``.
"""
