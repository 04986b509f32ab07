"""TLS: STARTTLS, implicit TLS, protocol versions, injection, certificate reload."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import client_tls_context, make_cert, message


def test_starttls_then_delivery_records_tls_in_received(tern):
    s = tern.smtp()
    assert s.has_extn("starttls")
    s.starttls(context=client_tls_context())
    s.ehlo("c.example")
    assert not s.has_extn("starttls"), "STARTTLS is not offered twice"
    s.sendmail("x@remote.example", ["alice@example.test"], message("over tls"))
    s.quit()
    stored = [m for m in tern.bodies("alice@example.test") if b"Subject: over tls" in m][0]
    head = stored.split(b"\r\n\r\n")[0]
    assert b" with ESMTPS id " in head
    assert b"(using TLSv1.3 with cipher TLS_" in head


def test_starttls_requires_new_ehlo(tern):
    r = tern.raw()
    r.cmd("EHLO c.example")
    r.starttls()
    code, text = r.cmd("MAIL FROM:<x@remote.example>")
    assert (code, text[:5]) == (503, "5.5.1")
    assert r.cmd("EHLO c.example")[0] == 250
    assert r.cmd("MAIL FROM:<x@remote.example>")[0] == 250
    assert r.cmd("STARTTLS")[0] == 503
    r.close()


def test_requiretls_offered_and_accepted_only_under_tls(tern):
    r = tern.raw()
    code, text = r.cmd("EHLO c.example")
    assert "REQUIRETLS" not in text
    assert r.cmd("MAIL FROM:<x@remote.example> REQUIRETLS")[0] == 555
    r.starttls()
    code, text = r.cmd("EHLO c.example")
    assert "REQUIRETLS" in text
    assert r.cmd("MAIL FROM:<x@remote.example> REQUIRETLS=yes")[0] == 501
    assert r.cmd("MAIL FROM:<x@remote.example> REQUIRETLS REQUIRETLS")[0] == 501
    assert r.cmd("MAIL FROM:<x@remote.example> REQUIRETLS")[0] == 250
    r.close()


def test_starttls_injection_is_refused_and_discarded(tern):
    """CVE-2011-0411: commands pipelined after STARTTLS must not run inside TLS."""
    r = tern.raw()
    r.cmd("EHLO c.example")
    r.send("STARTTLS\r\nMAIL FROM:<injected@remote.example>\r\nRCPT TO:<alice@example.test>\r\n")
    code, texts = r.reply()
    assert code == 503 and texts[0].startswith("5.5.1"), (code, texts)
    # the pipelined plaintext is gone: no replies for it, and no transaction exists
    code, text = r.cmd("RCPT TO:<alice@example.test>")
    assert code == 503
    # a clean STARTTLS still works afterwards
    r.starttls()
    assert r.cmd("EHLO c.example")[0] == 250
    r.close()


def test_implicit_tls_submissions_port(tern):
    s = tern.smtp("submissions")
    assert s.has_extn("auth")
    assert not s.has_extn("starttls")
    assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
    s.quit()


@pytest.mark.parametrize("version,ok", [
    (ssl.TLSVersion.TLSv1_2, True),
    (ssl.TLSVersion.TLSv1_3, True),
])
def test_tls_versions(tern, version, ok):
    ctx = client_tls_context()
    ctx.minimum_version = version
    ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", tern.ports["submissions"])) as raw:
        with ctx.wrap_socket(raw) as s:
            assert s.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
            assert s.recv(100).startswith(b"220 ")


def test_old_tls_refused(tern):
    # OpenSSL's client is the only one here still able to offer TLS 1.1.
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % tern.ports["submissions"],
                        "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                       input=b"", capture_output=True, timeout=30)
    out = r.stdout + r.stderr
    # the client did offer TLS 1.1, and the server answered with a protocol_version alert
    assert b"alert protocol version" in out, out[-500:]
    tern.wait_log("TLS error.*unsupported protocol")


def test_tls12_cipher_is_forward_secret_aead(tern):
    ctx = client_tls_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", tern.ports["submissions"])) as raw:
        with ctx.wrap_socket(raw) as s:
            name = s.cipher()[0]
            assert name.startswith(("ECDHE-", "DHE-")) and ("GCM" in name or "CHACHA20" in name), name


def test_sighup_reloads_certificate(make_tern, tmp_path):
    t = make_tern(own_cert=True)

    def peer_cert():
        with socket.create_connection(("127.0.0.1", t.ports["submissions"])) as raw:
            with client_tls_context().wrap_socket(raw) as s:
                return s.getpeercert(binary_form=True)

    before = peer_cert()
    os.chmod(str(tmp_path), 0o755)
    cert, key = make_cert(str(tmp_path), cn="reloaded.example")
    shutil.copy(cert, t.cert)
    shutil.copy(key, t.key)
    t.proc.send_signal(signal.SIGHUP)
    t.wait_log("certificate reloaded")
    after = peer_cert()
    assert after != before
    assert after == ssl.PEM_cert_to_DER_cert(open(cert).read())
    # a broken certificate file keeps the one in use
    with open(t.cert, "w") as f:
        f.write("not a certificate")
    t.proc.send_signal(signal.SIGHUP)
    t.wait_log("reload failed")
    assert peer_cert() == after
