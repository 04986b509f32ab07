"""The remote SMTP servers of the delivery tests: aiosmtpd on a loopback address.

    peer = SmtpPeer("127.0.0.2", port)          # started; peer.stop() at the end
    peer.rcpt_reply["bad@remote.test"] = "550 5.1.1 No such user here"
    peer.wait_messages(1)                      # -> [Received(...)]

Every message it accepts is kept with its envelope (mail_from, rcpt_tos,
mail_options, rcpt_options), its exact bytes, the session it came on (so
tests can count connections) and whether that session had TLS.  Replies
can be scripted per recipient (rcpt_reply), for MAIL FROM (mail_reply)
and after the data (data_reply); with tls_context it offers STARTTLS, with
auth it requires AUTH PLAIN/LOGIN with those credentials; with
eightbitmime=False its EHLO reply leaves out 8BITMIME (an old 7-bit MTA).
"""

import asyncio
import ssl
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Received:
    def __init__(self, envelope, session, tls):
        self.mail_from = envelope.mail_from
        self.rcpt_tos = list(envelope.rcpt_tos)
        self.mail_options = list(envelope.mail_options)
        self.rcpt_options = list(envelope.rcpt_options)
        self.data = envelope.original_content or envelope.content
        self.session = session
        self.tls = tls
        self.at = time.monotonic()

    def __repr__(self):
        return "Received(%r -> %r, %d octets)" % (self.mail_from, self.rcpt_tos, len(self.data))


class _Handler:
    def __init__(self, peer):
        self.peer = peer

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = self.peer.mail_reply
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.peer.rcpt_reply.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(list(rcpt_options))
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.peer.data_delay:
            await asyncio.sleep(self.peer.data_delay)     # a server that takes its time over the message
        if self.peer.data_reply:
            return self.peer.data_reply
        tls = session.ssl is not None
        with self.peer.lock:
            self.peer.messages.append(Received(envelope, id(session), tls))
        return "250 2.0.0 Ok: queued by peer"


class _No8bitHandler(_Handler):
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [r for r in responses if r[4:].upper() != "8BITMIME"]


class SmtpPeer:
    def __init__(self, host, port, tls_context=None, auth=None, smtputf8=True, hostname=None, eightbitmime=True):
        self.host, self.port = host, port
        self.messages = []
        self.lock = threading.Lock()
        self.rcpt_reply = {}
        self.mail_reply = None
        self.data_reply = None
        self.data_delay = 0
        self.auth_seen = []
        kwargs = {"enable_SMTPUTF8": smtputf8}
        if tls_context is not None:
            kwargs["tls_context"] = tls_context
        if auth is not None:
            kwargs["authenticator"] = self._authenticator(auth)
            kwargs["auth_required"] = True
            kwargs["auth_require_tls"] = tls_context is not None
        handler = _Handler(self) if eightbitmime else _No8bitHandler(self)
        self.controller = Controller(handler, hostname=host, port=port,
                                     server_hostname=hostname or "peer-%s.test" % host,
                                     ready_timeout=10, **kwargs)
        self.controller.start()

    def _authenticator(self, creds):
        user, password = creds

        def check(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            self.auth_seen.append((mechanism, ok, session.ssl is not None))
            return AuthResult(success=ok)
        return check

    def wait_messages(self, n, timeout=30, log=None):
        """The messages once there are n; log (a callable, e.g. Tern.log) is shown on failure."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError("peer %s got %d messages, wanted %d%s" % (self.host, len(self.messages), n,
                                                                      "\n" + log() if log else ""))

    def stop(self):
        self.controller.stop()


def client_tls_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx
