"""Every campaign message carries a visible unsubscribe link and the sender's postal
address (CAN-SPAM) in its body, HTML and text; a template can place either itself."""

from __future__ import annotations

import pytest

from shared.email import service
from shared.email.render import html_to_text, with_footer
from shared.errors import Conflict
from tests.email.conftest import WS, audience, campaign, smtp_body

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
ADDRESS = "Herald Team\n1 Rue de la Paix\n75002 Paris, France"


def test_the_text_part_keeps_the_space_between_blocks_and_inline_elements() -> None:
    # Issue 18: "one more thing.Unsubscribe" (whitespace at the edge of a text node was dropped).
    text = html_to_text('<p>One more thing.\n<a href="https://x.example/u">Unsubscribe</a></p>')
    assert "One more thing. Unsubscribe (https://x.example/u)" in text
    assert html_to_text("<b>bold</b> <i>and</i>\n<span>plain</span>") == "bold and plain\n"
    assert html_to_text("<div>one</div><div>two</div>") == "one\n\ntwo\n"


def test_the_default_footer_adds_only_what_the_template_lacks() -> None:
    html, text = with_footer("<html><body><p>Hi</p></body></html>", "Hi")
    assert html.index("{{ unsubscribe_url }}") < html.index("</body>")
    assert "postal_address" in html and text.endswith("Unsubscribe: {{ unsubscribe_url }}\n")
    placed = '<p><a href="{{ unsubscribe_url }}">Leave</a> {{ postal_address }}</p>'
    assert with_footer(placed, "Bye {{unsubscribe_url}} {{ postal_address }}") == (
        placed,
        "Bye {{unsubscribe_url}} {{ postal_address }}",
    )
    only_link = '<a href="{{ unsubscribe_url }}">Leave</a>'
    html, _ = with_footer(only_link, "")
    assert html.count("unsubscribe_url") == 1 and "postal_address" in html


def test_a_sent_message_shows_the_unsubscribe_link_and_the_address(runtime, smtp_server) -> None:
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server, postal_address=ADDRESS))
    cid = campaign(
        runtime,
        audience(runtime, ["ann@example.com"]),
        html="<p>Hello {{ first_name }}, one more thing.</p>",
        text="",
    )
    service.send_test_campaign(runtime, WS, cid, "me@example.com", {"first_name": "Sam"})
    [msg] = smtp_server.handler.to("me@example.com")
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    [header] = [u for u in msg["List-Unsubscribe"].split(", ") if u.startswith("<http")]
    url = header.strip("<>")
    assert f'href="{url}"' in html and ">Unsubscribe</a>" in html
    assert "Herald Team, 1 Rue de la Paix, 75002 Paris, France" in html
    assert f"Unsubscribe: {url}" in text
    assert "Herald Team, 1 Rue de la Paix, 75002 Paris, France" in text
    assert "one more thing.\n\n-- \n" in text  # the footer is its own block


def test_a_template_that_places_the_link_itself_gets_no_second_one(runtime, smtp_server) -> None:
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server, postal_address=ADDRESS))
    cid = campaign(
        runtime,
        audience(runtime, ["ann@example.com"]),
        html='<p>Hi</p><p><a href="{{ unsubscribe_url }}">Stop these</a>'
        " · {{ postal_address }}</p>",
    )
    service.send_test_campaign(runtime, WS, cid, "me@example.com", None)
    [msg] = smtp_server.handler.to("me@example.com")
    html = msg.get_body(("html",)).get_content()
    assert html.count("/u/") == 1 and "Stop these" in html and ">Unsubscribe</a>" not in html
    assert "1 Rue de la Paix" in html


def test_a_campaign_through_a_real_server_needs_the_postal_address(
    runtime, smtp_server, monkeypatch
) -> None:
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server, postal_address=""))
    assert service.get_smtp_settings(runtime, WS)["postal_address"] == ""
    cid = campaign(runtime, audience(runtime, ["ann@example.com"]))
    with pytest.raises(Conflict, match="postal address") as info:
        service.schedule_campaign(runtime, WS, cid, runtime.clock.now().isoformat())
    assert info.value.details == {"field": "postal_address", "where": "smtp"}
    assert service.get_campaign(runtime, WS, cid)["status"] == "draft"
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server, postal_address=ADDRESS))
    scheduled = service.schedule_campaign(runtime, WS, cid, runtime.clock.now().isoformat())
    assert scheduled["status"] == "scheduled"


def test_the_local_sandbox_sink_delivers_to_no_one_so_needs_no_address(runtime, monkeypatch):
    monkeypatch.setenv("HERALD_LOCAL_SMTP", "127.0.0.1:2525")
    cid = campaign(runtime, audience(runtime, ["ann@example.com"]))
    scheduled = service.schedule_campaign(runtime, WS, cid, runtime.clock.now().isoformat())
    assert scheduled["status"] == "scheduled"
