"""The admin CLI of CONTRACT.md, run as an operator would, also while serve runs."""
import os
import pwd
import subprocess

import pytest

from conftest import IS_ROOT, RUN_USER, TERN, message


def test_domain_user_alias_lifecycle(make_tern):
    t = make_tern(provisioned=False)
    t.cli("domain", "add", "Example.TEST")
    assert t.cli("domain", "list").stdout.split() == ["example.test"]
    r = t.cli("domain", "add", "example.test", check=False)
    assert r.returncode == 1 and r.stderr.startswith("tern:")
    t.cli("domain", "add", "bücher.example")
    assert "xn--bcher-kva.example" in t.cli("domain", "list").stdout.split()

    t.add_user("alice@example.test")
    r = t.cli("user", "add", "bob@nowhere.example", "--password-stdin", input="pw\n", check=False)
    assert r.returncode == 1 and "domain" in r.stderr
    r = t.cli("user", "add", "alice@example.test", "--password-stdin", input="pw\n", check=False)
    assert r.returncode == 1
    assert t.cli("user", "list").stdout.split() == ["alice@example.test"]

    t.cli("alias", "add", "info@example.test", "alice@example.test,someone@remote.example")
    out = t.cli("alias", "list").stdout
    assert "info@example.test" in out and "alice@example.test" in out and "someone@remote.example" in out
    t.cli("alias", "del", "info@example.test")
    assert "info@example.test" not in t.cli("alias", "list").stdout

    r = t.cli("domain", "del", "example.test", check=False)
    assert r.returncode == 1, "a domain with accounts is not deleted"
    t.cli("user", "del", "alice@example.test")
    assert t.cli("user", "list").stdout.strip() == ""
    t.cli("domain", "del", "example.test")


def test_password_never_on_command_line_and_passwd(make_tern):
    t = make_tern()
    r = t.cli("user", "add", "dave@example.test", check=False, input="")
    assert r.returncode == 1  # no tty, no --password-stdin: refused, not an empty password
    t.cli("user", "passwd", "alice@example.test", "--password-stdin", input="n3w-pass\n")
    s = t.submission(password="n3w-pass")
    s.quit()


def test_mail_list_and_cat_while_serving(tern):
    s = tern.smtp()
    s.sendmail("x@remote.example", ["carol@other.test"], message("cli listing", frm="Xavier <x@remote.example>"))
    s.quit()
    rows = tern.messages("carol@other.test")
    assert rows
    uid, line = rows[-1]
    assert "cli listing" in line and "x@remote.example" in line
    raw = tern.cat("carol@other.test", uid)
    assert b"Subject: cli listing" in raw
    r = subprocess.run([TERN, "-c", tern.conf, "mail", "cat", "carol@other.test", "INBOX", "999999"],
                       capture_output=True)
    assert r.returncode == 1
    r = subprocess.run([TERN, "-c", tern.conf, "mail", "list", "nobody@other.test"], capture_output=True)
    assert r.returncode == 1


def test_queue_list_retry_delete(make_tern):
    t = make_tern()
    s = t.submission()
    s.sendmail("alice@example.test", ["far@remote.example"], message("queued", frm="alice@example.test"))
    s.quit()
    out = t.cli("queue", "list").stdout
    assert "far@remote.example" in out
    qid = out.split()[0]
    t.cli("queue", "retry", qid)
    t.cli("queue", "delete", qid)
    assert "far@remote.example" not in t.cli("queue", "list").stdout
    assert t.cli("queue", "delete", qid, check=False).returncode == 1


def test_version_and_usage():
    r = subprocess.run([TERN, "version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("tern ") and "OpenSSL" in r.stdout and "SQLite" in r.stdout
    r = subprocess.run([TERN, "frobnicate"], capture_output=True, text=True,
                       env=dict(os.environ, TERN_CONFIG="/nonexistent/tern.conf"))
    assert r.returncode == 1


def test_check_config(make_tern, tmp_path):
    t = make_tern(start=False, provisioned=False)
    r = subprocess.run([TERN, "-c", t.conf, "check-config"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text("hostname = mx.example.test\ndata_dir = relative/path\nbogus = 1\n[smtp]\nmax_message_size = lots\n"
                   "[listen]\nsmtp = 127.0.0.1:99999\nsubmissions = 127.0.0.1:2465\n")
    r = subprocess.run([TERN, "-c", str(bad), "check-config"], capture_output=True, text=True)
    assert r.returncode == 1
    for problem in ("data_dir", "bogus", "max_message_size", "99999", "[listen] submissions: needs [tls]"):
        assert problem in r.stderr, (problem, r.stderr)
    bad.write_text("[tls]\ncert = /x\n")
    r = subprocess.run([TERN, "-c", str(bad), "check-config"], capture_output=True, text=True)
    assert r.returncode == 1 and "cert and key must be given together" in r.stderr
    bad.write_text("[tls]\ncert = /nonexistent/cert.pem\nkey = /nonexistent/key.pem\n")
    r = subprocess.run([TERN, "-c", str(bad), "check-config"], capture_output=True, text=True)
    assert r.returncode == 1 and "cannot load certificate" in r.stderr
    # TERN_CONFIG is the default
    r = subprocess.run([TERN, "check-config"], capture_output=True, text=True, env=dict(os.environ, TERN_CONFIG=t.conf))
    assert r.returncode == 0
    r = subprocess.run([TERN, "-c", str(tmp_path / "missing.conf"), "check-config"], capture_output=True, text=True)
    assert r.returncode == 1 and "cannot open" in r.stderr


@pytest.mark.skipif(not IS_ROOT, reason="needs root to switch users")
def test_root_commands_keep_data_owned_by_service_user(make_tern):
    t = make_tern()
    t.cli("user", "add", "eve@example.test", "--password-stdin", input="pw\n")
    uid = pwd.getpwnam(RUN_USER).pw_uid
    for dirpath, dirnames, filenames in os.walk(t.data_dir):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            assert st.st_uid == uid, os.path.join(dirpath, name)
