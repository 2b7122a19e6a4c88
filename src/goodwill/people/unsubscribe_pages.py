"""The unsubscribe pages people reach from a message: no login, one button, honoured at once.

``GET /unsubscribe/{token}`` only shows the button: mail scanners and link previews open links, and
opening one must never unsubscribe anyone. ``POST /unsubscribe/{token}`` does it, from the button or
from a mail client's RFC 8058 one-click request (body ``List-Unsubscribe=One-Click``, no cookies).

No CSRF token is asked for, on purpose: the signed token in the path is the whole authorisation (it
names the person and the channel, and only we can make one), a forger without it gets the broken-link
page, and a mail client's one-click request could never carry a form token. These routes read no
login cookie and set none; CSRF is checked where a signed-in principal is
(``web.deps.current_principal``), which these routes never ask for, so nothing else loses it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from goodwill.people.unsubscribe import BadToken, UnsubscribeRequest, read_token, unsubscribe
from goodwill.web.deps import DbSession
from goodwill.web.templating import render

router = APIRouter(include_in_schema=False)

LINK_SOURCE = "unsubscribe link"
ONE_CLICK_SOURCE = "one-click unsubscribe"
# What stops, in the words of the person reading the page.
WHAT_STOPS = {"email": "emails", "sms": "text messages", "card": "cards in the post", "call": "phone calls"}


def _read(request: Request, token: str) -> UnsubscribeRequest | None:
    try:
        return read_token(request.app.state.secret_key, token)
    except BadToken:
        return None


def broken_link(request: Request) -> Response:
    """The same page for every bad token: why it failed would only help someone forging them."""
    return render(request, "unsubscribe/broken.html", status_code=400)


@router.get("/unsubscribe/{token}")
def confirm_page(request: Request, token: str) -> Response:
    found = _read(request, token)
    if found is None:
        return broken_link(request)
    return render(request, "unsubscribe/confirm.html", {"token": token, "what": WHAT_STOPS[found.channel]})


@router.post("/unsubscribe/{token}")
def do_unsubscribe(
    request: Request,
    token: str,
    session: DbSession,
    one_click: Annotated[str, Form(alias="List-Unsubscribe")] = "",
) -> Response:
    found = _read(request, token)
    if found is None:
        return broken_link(request)
    source = ONE_CLICK_SOURCE if one_click == "One-Click" else LINK_SOURCE
    unsubscribe(session, secret_key=request.app.state.secret_key, request=found, source=source)
    return render(request, "unsubscribe/done.html", {"what": WHAT_STOPS[found.channel]})
