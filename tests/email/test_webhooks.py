"""Providers' bounce and complaint webhooks through the real track function: each
provider's signed call applied once, and the same call forged refused with nothing
written. Messages are sent for real (aiosmtpd); the webhooks name them by the feedback
token the sent message carried."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from shared.email import deliverability, service, webhooks
from shared.email.model import EVENTS, SUPPRESSIONS, suppression_id
from tests.email import test_track
from tests.email.conftest import WS, self_signed, smtp_body
from tests.email.test_feedback import outcome_of, send, suppression

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
client = test_track.client  # the track function, in process

TOPIC = "arn:aws:sns:eu-west-1:123456789012:herald-feedback"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123abcd.pem"


@pytest.fixture
def sent(runtime, clock, smtp_server) -> dict[str, str]:
    """Three messages sent for real; each recipient's feedback token (its Message-ID's
    first part, as every provider reports it)."""
    service.put_smtp_settings(runtime, WS, smtp_body(smtp_server))
    to = ["gone@example.com", "full@example.com", "angry@example.com"]
    send(runtime, clock, to)
    tokens = {}
    for address in to:
        (msg,) = smtp_server.handler.to(address)
        tokens[address] = str(msg["Message-ID"]).strip("<>").split(".", 1)[0]
    return tokens


def events(db) -> list[dict[str, Any]]:
    kinds = ("bounce", "soft_bounce", "complaint")
    return [d.to_dict() for d in db.collection(EVENTS).stream() if d.get("type") in kinds]


def assert_nothing_written(db) -> None:
    assert events(db) == []
    assert list(db.collection(SUPPRESSIONS).stream()) == []


def assert_applied(db) -> None:
    assert suppression(db, "gone@example.com")["reason"] == "hard_bounce"
    assert suppression(db, "angry@example.com")["reason"] == "complaint"
    assert suppression(db, "full@example.com") is None
    assert outcome_of(db, "full@example.com")["bounce"] == "soft"
    assert outcome_of(db, "angry@example.com")["complaint"] is True
    kinds = sorted(e["type"] for e in events(db))
    assert kinds == ["bounce", "complaint", "soft_bounce"]


# -- Amazon SES via SNS --------------------------------------------------------------------


@pytest.fixture(scope="module")
def sns_key() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, "sns.amazonaws.com")
    return key, cert.public_bytes(serialization.Encoding.PEM)


def sns(key: rsa.RSAPrivateKey, note: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    msg = {
        "Type": "Notification",
        "MessageId": f"m-{id(note)}-{len(fields)}",
        "TopicArn": TOPIC,
        "Message": json.dumps(note),
        "Timestamp": "2026-03-08T14:00:00.000Z",
        "SignatureVersion": "2",
        "SigningCertURL": CERT_URL,
        **fields,
    }
    algorithm = hashes.SHA1() if msg["SignatureVersion"] == "1" else hashes.SHA256()  # noqa: S303
    signature = key.sign(webhooks.sns_string_to_sign(msg), padding.PKCS1v15(), algorithm)
    return {**msg, "Signature": base64.b64encode(signature).decode()}


def ses_notes(tokens: dict[str, str]) -> list[dict[str, Any]]:
    def mail(address: str) -> dict[str, Any]:
        return {
            "messageId": f"ses-{address}",
            "destination": [address],
            "tags": {"herald": [tokens[address]]},
        }

    return [
        {
            "notificationType": "Bounce",
            "mail": mail("gone@example.com"),
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": "gone@example.com",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
            },
        },
        {
            "notificationType": "Bounce",
            "mail": mail("full@example.com"),
            "bounce": {
                "bounceType": "Transient",
                "bounceSubType": "MailboxFull",
                "bouncedRecipients": [{"emailAddress": "full@example.com", "status": "4.2.2"}],
            },
        },
        {
            "notificationType": "Complaint",
            "mail": mail("angry@example.com"),
            "complaint": {
                "complaintFeedbackType": "abuse",
                "complainedRecipients": [{"emailAddress": "angry@example.com"}],
            },
        },
    ]


@pytest.fixture
def aws(sns_key):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(CERT_URL, body=sns_key[1])
        webhooks._CERTS.clear()
        yield mock


def test_ses_through_sns_signed_notifications_are_applied_once(
    runtime, db, client, sent, sns_key, aws
):
    deliverability.put_webhook(runtime, WS, "ses", {"topic_arns": [TOPIC]})
    calls = [sns(sns_key[0], note) for note in ses_notes(sent)]
    for call in calls:
        reply = client.post(f"/hooks/ses/{WS}", json=call)
        assert reply.status_code == 200, reply.json
    assert_applied(db)
    again = client.post(f"/hooks/ses/{WS}", json=calls[0])  # SNS delivers twice
    assert again.status_code == 200 and again.json["duplicate"] == 1
    assert len(events(db)) == 3
    # SignatureVersion 1 (SHA1) verifies too.
    v1 = sns(sns_key[0], None, SignatureVersion="1", Type="Notification")
    assert client.post(f"/hooks/ses/{WS}", json=v1).status_code == 200


def test_ses_forged_notifications_are_refused(runtime, db, client, sent, sns_key, aws):
    deliverability.put_webhook(runtime, WS, "ses", {"topic_arns": [TOPIC]})
    note = ses_notes(sent)[0]
    signed = sns(sns_key[0], note)
    altered = {**signed, "Message": json.dumps({**note, "notificationType": "Complaint"})}
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elsewhere = sns(forger, note, SigningCertURL="https://sns.evil.example/cert.pem")
    other_topic = sns(sns_key[0], note, TopicArn=TOPIC + "-other")
    unsigned = {k: v for k, v in signed.items() if k != "Signature"}
    for forged in (altered, sns(forger, note), elsewhere, other_topic, unsigned):
        reply = client.post(f"/hooks/ses/{WS}", json=forged)
        assert reply.status_code == 401, (forged, reply.json)
    assert_nothing_written(db)


def test_ses_subscription_is_confirmed_after_its_signature_verifies(runtime, client, sns_key, aws):
    deliverability.put_webhook(runtime, WS, "ses", {"topic_arns": [TOPIC]})
    subscribe = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=t1"
    confirm = aws.get(subscribe.partition("?")[0], body="<ConfirmSubscriptionResponse/>")
    msg = sns(
        sns_key[0],
        None,
        Type="SubscriptionConfirmation",
        Message="You have chosen to subscribe.",
        SubscribeURL=subscribe,
        Token="t1",
    )
    forged = {**msg, "SubscribeURL": subscribe.replace("t1", "t2")}
    assert client.post(f"/hooks/ses/{WS}", json=forged).status_code == 401
    assert confirm.call_count == 0
    assert client.post(f"/hooks/ses/{WS}", json=msg).status_code == 200
    assert confirm.call_count == 1


# -- SendGrid ------------------------------------------------------------------------------


def sendgrid_events(tokens: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "email": "gone@example.com",
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 5.1.1 user unknown",
            "sg_event_id": "e1",
            "herald": tokens["gone@example.com"],
        },
        {
            "email": "full@example.com",
            "event": "bounce",
            "type": "blocked",
            "status": "4.2.2",
            "reason": "452 mailbox full",
            "sg_event_id": "e2",
            "herald": tokens["full@example.com"],
        },
        {
            "email": "angry@example.com",
            "event": "spamreport",
            "sg_event_id": "e3",
            "herald": tokens["angry@example.com"],
        },
        {"email": "x@example.com", "event": "open", "sg_event_id": "e4"},
    ]


def test_sendgrid_signed_events_are_applied_and_forged_ones_refused(
    runtime, db, clock, client, sent
):
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    deliverability.put_webhook(runtime, WS, "sendgrid", {"key": base64.b64encode(public).decode()})
    body = json.dumps(sendgrid_events(sent)).encode()
    stamp = str(int(clock.now().timestamp()))

    def post(payload: bytes, signer: ec.EllipticCurvePrivateKey, ts: str = stamp) -> Any:
        signature = signer.sign(ts.encode() + payload, ec.ECDSA(hashes.SHA256()))
        return client.post(
            f"/hooks/sendgrid/{WS}",
            data=payload,
            content_type="application/json",
            headers={
                "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": ts,
            },
        )

    other = ec.generate_private_key(ec.SECP256R1())
    assert post(body, other).status_code == 401
    tampered = body.replace(b"spamreport", b"delivered")
    good = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    reply = client.post(
        f"/hooks/sendgrid/{WS}",
        data=tampered,
        content_type="application/json",
        headers={
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(good).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        },
    )
    assert reply.status_code == 401
    old = str(int(clock.now().timestamp()) - 3600)
    assert post(body, key, old).status_code == 401, "a replayed call of an hour ago"
    assert client.post(f"/hooks/sendgrid/{WS}", data=body).status_code == 401
    assert_nothing_written(db)

    assert post(body, key).status_code == 200
    assert_applied(db)


def test_sendgrid_key_that_is_not_an_ec_key_is_refused(runtime):
    with pytest.raises(Exception, match="verification key"):
        deliverability.put_webhook(runtime, WS, "sendgrid", {"key": "not a key"})


# -- Mailgun -------------------------------------------------------------------------------


def mailgun_call(key: str, stamp: str, data: dict[str, Any], token: str) -> dict[str, Any]:
    return {
        "signature": {
            "timestamp": stamp,
            "token": token,
            "signature": webhooks.mailgun_signature(key, stamp, token),
        },
        "event-data": data,
    }


def test_mailgun_hmac_signed_events_are_applied_and_forged_ones_refused(
    runtime, db, clock, client, sent
):
    key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
    deliverability.put_webhook(runtime, WS, "mailgun", {"key": key})
    stamp = str(int(clock.now().timestamp()))
    datas = [
        {
            "id": "mg1",
            "event": "failed",
            "severity": "permanent",
            "recipient": "gone@example.com",
            "delivery-status": {"code": 550, "description": "No such user"},
            "user-variables": {"herald": sent["gone@example.com"]},
        },
        {
            "id": "mg2",
            "event": "failed",
            "severity": "temporary",
            "recipient": "full@example.com",
            "delivery-status": {"code": 452, "message": "mailbox full"},
            "user-variables": {"herald": sent["full@example.com"]},
        },
        {
            "id": "mg3",
            "event": "complained",
            "recipient": "angry@example.com",
            "user-variables": {"herald": sent["angry@example.com"]},
        },
    ]
    calls = [mailgun_call(key, stamp, d, f"tok{i}" * 10) for i, d in enumerate(datas)]
    forged = [
        mailgun_call("another key", stamp, datas[0], "t" * 50),
        {**calls[0], "event-data": {**datas[0], "recipient": "ok@example.com"}}
        | {"signature": {**calls[0]["signature"], "signature": "0" * 64}},
        mailgun_call(key, str(int(stamp) - 3600), datas[0], "u" * 50),  # replayed
        {"event-data": datas[0]},
    ]
    for call in forged:
        assert client.post(f"/hooks/mailgun/{WS}", json=call).status_code == 401
    assert_nothing_written(db)
    for call in calls:
        assert client.post(f"/hooks/mailgun/{WS}", json=call).status_code == 200
    assert_applied(db)


# -- Postmark ------------------------------------------------------------------------------


def test_postmark_basic_auth_events_are_applied_and_forged_ones_refused(runtime, db, client, sent):
    deliverability.put_webhook(
        runtime, WS, "postmark", {"username": "postmark", "password": "long enough secret"}
    )
    records = [
        {
            "RecordType": "Bounce",
            "ID": 1,
            "Type": "HardBounce",
            "Email": "gone@example.com",
            "Details": "smtp;550 5.1.1 user unknown",
            "Metadata": {"herald": sent["gone@example.com"]},
        },
        {
            "RecordType": "Bounce",
            "ID": 2,
            "Type": "SoftBounce",
            "Email": "full@example.com",
            "Description": "mailbox full",
            "Metadata": {"herald": sent["full@example.com"]},
        },
        {
            "RecordType": "SpamComplaint",
            "ID": 3,
            "Email": "angry@example.com",
            "Metadata": {"herald": sent["angry@example.com"]},
        },
    ]

    def auth(user: str, password: str) -> dict[str, str]:
        raw = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}

    for headers in (auth("postmark", "wrong"), auth("other", "long enough secret"), {}):
        reply = client.post(f"/hooks/postmark/{WS}", json=records[0], headers=headers)
        assert reply.status_code == 401
    assert_nothing_written(db)
    for record in records:
        reply = client.post(
            f"/hooks/postmark/{WS}", json=record, headers=auth("postmark", "long enough secret")
        )
        assert reply.status_code == 200
    assert_applied(db)


def test_a_webhook_naming_another_workspaces_message_changes_nothing(runtime, db, client, sent):
    """A workspace's valid credentials do not reach another workspace's recipients."""
    deliverability.put_webhook(
        runtime, "ws2", "postmark", {"username": "pm", "password": "long enough secret"}
    )
    raw = base64.b64encode(b"pm:long enough secret").decode()
    record = {
        "RecordType": "Bounce",
        "ID": 9,
        "Type": "HardBounce",
        "Email": "gone@example.com",
        "Metadata": {"herald": sent["gone@example.com"]},
    }
    reply = client.post(
        "/hooks/postmark/ws2", json=record, headers={"Authorization": f"Basic {raw}"}
    )
    assert reply.status_code == 200 and reply.json.get("applied") is None
    assert events(db) == []
    assert suppression(db, "gone@example.com") is None
    # The provider said so for ws2: the address is suppressed there, not in ws1.
    snap = db.collection(SUPPRESSIONS).document(suppression_id("ws2", "gone@example.com"))
    assert snap.get().get("reason") == "hard_bounce"


def test_unconfigured_provider_or_unknown_path_is_not_found(client):
    assert client.post(f"/hooks/mailgun/{WS}", json={}).status_code == 404
    assert client.post(f"/hooks/nope/{WS}", json={}).status_code == 404
    assert client.get(f"/hooks/ses/{WS}").status_code == 405
