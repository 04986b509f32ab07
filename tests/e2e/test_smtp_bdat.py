"""CHUNKING (RFC 3030): BDAT."""


def start(t):
    r = t.raw()
    r.cmd("EHLO c.example")
    assert r.cmd("MAIL FROM:<b@remote.example>")[0] == 250
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 250
    return r


def test_bdat_chunks_stored_exactly(tern):
    r = start(tern)
    parts = [b"Subject: chunked\r\n", b"\r\nfirst part, ", b"second part\r\n.\r\nno dot-stuffing in BDAT\r\n"]
    for p in parts[:-1]:
        r.send(b"BDAT %d\r\n" % len(p) + p)
        code, texts = r.reply()
        assert code == 250 and texts[0].startswith("2.0.0 %d octets" % len(p))
    r.send(b"BDAT %d LAST\r\n" % len(parts[-1]) + parts[-1])
    code, texts = r.reply()
    assert code == 250 and "queued as" in texts[0]
    r.close()
    stored = [m for m in tern.bodies("alice@example.test") if b"Subject: chunked" in m]
    assert stored and stored[0].endswith(b"".join(parts))


def test_bdat_zero_last_and_pipelined(tern):
    r = tern.raw()
    r.cmd("EHLO c.example")
    body = b"Subject: piped bdat\r\n\r\nx\r\n"
    r.send(b"MAIL FROM:<b@remote.example>\r\nRCPT TO:<bob@example.test>\r\nBDAT %d\r\n" % len(body) + body +
           b"BDAT 0 LAST\r\nNOOP\r\n")
    assert [r.reply()[0] for _ in range(5)] == [250, 250, 250, 250, 250]
    r.close()
    assert any(m.endswith(body) for m in tern.bodies("bob@example.test"))


def test_bdat_without_transaction_consumes_chunk(tern):
    r = tern.raw()
    r.cmd("EHLO c.example")
    chunk = b"RSET\r\nMAIL FROM:<x@remote.example>\r\n"   # would be commands if not consumed
    r.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    code, texts = r.reply()
    assert code == 503
    assert r.cmd("RCPT TO:<alice@example.test>")[0] == 503, "the chunk was not read as commands"
    r.close()


def test_data_after_bdat_refused(tern):
    r = start(tern)
    r.send(b"BDAT 3\r\nabc")
    assert r.reply()[0] == 250
    code, text = r.cmd("DATA")
    assert code == 503
    r.cmd("RSET")
    r.close()


def test_bdat_over_size_limit(tern):
    r = start(tern)
    big = b"a" * 998 + b"\r\n"
    chunk = b"Subject: huge\r\n\r\n" + big * 1100   # ~1.1 MB > 1M
    r.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    code, texts = r.reply()
    assert (code, texts[0][:5]) == (552, "5.3.4")
    assert r.cmd("NOOP")[0] == 250
    r.close()


def test_bdat_bad_size_syntax(tern):
    r = start(tern)
    assert r.cmd("BDAT -5")[0] == 501
    assert r.cmd("BDAT")[0] == 501
    r.close()
