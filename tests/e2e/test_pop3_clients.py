"""POP3 with real clients: fetchmail (with --keep and without) and curl, over
STLS and implicit TLS, retrieving into local files that must be byte-exact
against what was delivered.  Skipped only when the client is missing and
TERN_REQUIRE_CLIENTS is unset (CI sets it)."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import SAVE_MDA, message, need_client as need

PW = "secret-" + "pw"
ALICE = "alice@example.test"


def deliver(t, n):
    s = t.smtp()
    for i in range(n):
        body = "line one of %d\r\n.a line with a leading dot\r\n.\r\n..\r\nlast line\r\n" % i
        s.sendmail("sender@remote.example", [ALICE], message(subject="client %d" % i, body=body))
    s.quit()
    return t.bodies(ALICE)




def fetchmail(t, tmp_path, keep, implicit_tls):
    need("fetchmail")
    out = tmp_path / "mail"
    out.mkdir()
    save = tmp_path / "save.py"
    save.write_text(SAVE_MDA)
    rc = tmp_path / "fetchmailrc"
    port = t.ports["pop3s" if implicit_tls else "pop3"]
    rc.write_text(
        "set no syslog\nset invisible\n"
        "poll 127.0.0.1 service %d protocol POP3 auth password\n"
        "  user \"%s\" there with password \"%s\" is \"root\" here\n"
        "  %s no sslcertck\n"
        "  %s\n"
        "  no rewrite no stripcr\n"
        "  mda \"%s %s %s\"\n"
        % (port, ALICE, PW, "ssl" if implicit_tls else "sslproto TLS1.2+", "keep" if keep else "no keep",
           sys.executable, save, out))
    rc.chmod(0o600)
    r = subprocess.run(["fetchmail", "-f", str(rc), "--idfile", str(tmp_path / "ids"),
                        "--pidfile", str(tmp_path / "pid"), "--nodetach", "-v"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert r.returncode == 0, "fetchmail -> %d\n%s\n%s" % (r.returncode, r.stdout, r.stderr)
    return [p.read_bytes() for p in sorted(out.iterdir())], r.stdout + r.stderr


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["stls", "pop3s"])
def test_fetchmail_keep(make_tern, tmp_path, implicit_tls):
    t = make_tern()
    stored = deliver(t, 3)
    got, log = fetchmail(t, tmp_path, keep=True, implicit_tls=implicit_tls)
    assert sorted(got) == sorted(stored), log
    assert len(t.messages(ALICE)) == 3, "--keep leaves the mail on the server"
    assert all("\\Seen" in line for _, line in t.messages(ALICE))
    assert 'msg="TLS established"' in t.log(), "fetchmail used STLS or implicit TLS"


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["stls", "pop3s"])
def test_fetchmail_deletes(make_tern, tmp_path, implicit_tls):
    t = make_tern()
    stored = deliver(t, 3)
    got, log = fetchmail(t, tmp_path, keep=False, implicit_tls=implicit_tls)
    assert sorted(got) == sorted(stored), log
    assert t.messages(ALICE) == [], "fetched mail is deleted at QUIT"
    # without --keep fetchmail reads with "TOP n 99999999" (no \\Seen), then DELE and QUIT
    t.wait_log(r"msg=end user=alice@example.test retrieved=0 deleted=3 quit=yes")


@pytest.mark.parametrize("scheme", ["pop3", "pop3s"])
def test_curl_retrieves_byte_exact(make_tern, tmp_path, scheme):
    need("curl")
    t = make_tern()
    stored = deliver(t, 2)
    port = t.ports[scheme]
    base = "%s://127.0.0.1:%d/" % (scheme, port)
    tls = ["--ssl-reqd"] if scheme == "pop3" else []
    for i, want in enumerate(stored, 1):
        out = tmp_path / ("m%d" % i)
        r = subprocess.run(["curl", "-sS", "-k"] + tls + ["-u", "%s:%s" % (ALICE, PW), "-o", str(out),
                                                          base + str(i)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == want
    # LIST without a message number
    r = subprocess.run(["curl", "-sS", "-k"] + tls + ["-u", "%s:%s" % (ALICE, PW), base],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"".join(b"%d %d\r\n" % (i, len(m)) for i, m in enumerate(stored, 1))
    # a wrong password is an error for curl, and nothing is retrieved
    r = subprocess.run(["curl", "-sS", "-k"] + tls + ["-u", "%s:wrong" % ALICE, base + "1"],
                       capture_output=True, timeout=60)
    assert r.returncode != 0
    assert len(t.messages(ALICE)) == 2


def test_curl_refused_without_tls(make_tern):
    need("curl")
    t = make_tern()
    deliver(t, 1)
    r = subprocess.run(["curl", "-sS", "-u", "%s:%s" % (ALICE, PW),
                        "pop3://127.0.0.1:%d/1" % t.ports["pop3"]], capture_output=True, timeout=60)
    assert r.returncode != 0, "no login without TLS when allow_plaintext = no"
