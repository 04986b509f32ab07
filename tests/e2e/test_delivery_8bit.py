"""8-bit mail to a peer without 8BITMIME: tern's SMTP client converts it to
7 bits (quoted-printable, RFC 6152 §3 / RFC 2045 §6.7), MIME part by MIME
part, and sends no BODY=8BITMIME; to a peer with 8BITMIME the message goes
as it is, with BODY=8BITMIME.  Submitted on the submission port to a remote
recipient, relayed to an aiosmtpd peer (tests/e2e/smtppeer.py) on loopback;
what the peer received is decoded with Python's email package.
"""

import email
import email.policy

from conftest import message
from deliveryutil import report_of, status_fields, submit, wait_inbox, wait_queue_empty
from test_delivery import relay_tern

TEXT = ("Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u00e7a va?\r\n"
        ".a line that starts with a dot\r\n"
        "trailing space \r\n"
        "equals = sign and a tab\there\r\n"
        + "\u00e9" * 120 + "\r\n"
        + "long line " * 30 + "\r\n"
        "--not-a-boundary\r\n")


def assert_7bit(data):
    bad = [b for b in data if b >= 0x80 or b == 0]
    assert not bad, "8-bit octets sent to a 7-bit peer: %r" % data
    for line in data.split(b"\r\n"):
        assert len(line) <= 998


def test_non_mime_8bit_text_is_downgraded(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port, eightbitmime=False)
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    submit(t, ["far@remote.example"], subject="eight", mail_options=["BODY=8BITMIME"], body=TEXT)
    got = peer.wait_messages(1, log=t.log)[0]
    assert not any(o.upper().startswith("BODY=") for o in got.mail_options), got.mail_options
    assert_7bit(got.data)
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in got.data
    assert b"MIME-Version: 1.0\r\n" in got.data
    # QP lines are at most 76 octets (RFC 2045 §6.7 rule 5).
    body = got.data.split(b"\r\n\r\n", 1)[1]
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
    msg = email.message_from_bytes(got.data, policy=email.policy.default)
    assert msg["Subject"] == "eight"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_payload(decode=True).decode("utf-8") == TEXT
    wait_queue_empty(t)
    t.wait_log(r'msg="8-bit message to a host without 8BITMIME, downgraded to 7bit" relay=\S+ size=\d+ '
               r'downgraded_size=\d+ parts_encoded=1 ')
    t.wait_log(r"to=<far@remote\.example> .*status=sent")


MULTIPART_HEADER = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"frontier\"\r\n"
MULTIPART = (
    "preamble\r\n"
    "--frontier\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    + TEXT +
    "--frontier\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECA/7/\r\n"
    "--frontier\r\n"
    "Content-Type: message/rfc822\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "From: inner@remote.example\r\n"
    "Subject: inner\r\n"
    "\r\n"
    "Inner \u00fc\r\n"
    "--frontier--\r\n")


def test_multipart_parts_downgraded_base64_untouched(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port, eightbitmime=False)
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    s = t.submission()
    s.sendmail("alice@example.test", ["far@remote.example"],
               message("parts", body=MULTIPART, frm="alice@example.test", to="far@remote.example",
                       extra=MULTIPART_HEADER).encode(), mail_options=["BODY=8BITMIME"])
    s.quit()
    got = peer.wait_messages(1, log=t.log)[0]
    assert "BODY=8BITMIME" not in [o.upper() for o in got.mail_options]
    assert_7bit(got.data)
    # The base64 part goes octet for octet.
    assert (b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"AAECA/7/\r\n--frontier\r\n") in got.data
    msg = email.message_from_bytes(got.data, policy=email.policy.default)
    parts = list(msg.iter_parts())
    assert len(parts) == 3
    assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
    assert parts[0].get_content() == TEXT[:-2]   # the last CRLF belongs to the boundary
    assert parts[1].get_content() == b"\x00\x01\x02\x03\xfe\xff"
    # message/rfc822 is never given a non-identity encoding: 7bit, and its content converted.
    assert parts[2]["Content-Transfer-Encoding"] == "7bit"
    inner = parts[2].get_content()
    assert inner["Subject"] == "inner"
    assert inner["Content-Transfer-Encoding"] == "quoted-printable"
    assert inner.get_content() == "Inner \u00fc"
    wait_queue_empty(t)
    t.wait_log(r"parts_encoded=2 parts_relabelled=1 header_8bit=no residual_8bit=no")


def test_8bitmime_peer_gets_the_message_unchanged(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port)
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    msg = submit(t, ["far@remote.example"], subject="as is", mail_options=["BODY=8BITMIME"], body=TEXT)
    got = peer.wait_messages(1, log=t.log)[0]
    assert "BODY=8BITMIME" in got.mail_options
    # Under tern's Received line, exactly what was submitted: 8-bit octets, no conversion.
    assert got.data.endswith(msg.encode())
    assert TEXT.encode() in got.data
    assert b"quoted-printable" not in got.data
    wait_queue_empty(t)
    assert "downgraded" not in t.log()


def test_7bit_message_to_7bit_peer_unchanged(make_tern, peers, peer_port):
    peer = peers("127.0.0.2", peer_port, eightbitmime=False)
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    msg = submit(t, ["far@remote.example"], subject="ascii", body="plain ascii\r\n")
    got = peer.wait_messages(1, log=t.log)[0]
    assert got.data.endswith(msg.encode())
    wait_queue_empty(t)
    assert "8BITMIME" not in t.log()


def test_8bit_beyond_mime_nesting_limit_is_not_sent(make_tern, peers, peer_port):
    """As Postfix: 8-bit content nested deeper than the MIME parser follows
    cannot be converted, and is not sent 8-bit either (5.6.0)."""
    peer = peers("127.0.0.2", peer_port, eightbitmime=False)
    t = relay_tern(make_tern, "127.0.0.2", peer_port)
    # (No boundary is a prefix of another: "x6x", "x64x".)
    body = "".join("--x%dx\r\nContent-Type: multipart/mixed; boundary=\"x%dx\"\r\n\r\n" % (i, i + 1)
                   for i in range(80)) + "--x80x\r\n\r\nG\u00fc\u00dfe\r\n"
    s = t.submission()
    s.sendmail("alice@example.test", ["far@remote.example"],
               message("deep", body=body, frm="alice@example.test", to="far@remote.example",
                       extra="MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"x0x\"\r\n").encode(),
               mail_options=["BODY=8BITMIME"])
    s.quit()
    t.wait_log(r'msg="8-bit message to a host without 8BITMIME, not convertible".*MIME nesting or part count exceeds safety limit')
    t.wait_log(r"to=<far@remote\.example> .*status=(bounced|deferred)")

    print(t.log())
    assert peer.messages == []
