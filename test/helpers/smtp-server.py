"""A real SMTP server on loopback for the tests, on Debian's python3-aiosmtpd.

Prints its port on stdout, then writes every message it accepts as DIR/NNNNNN.json
(envelope, login, decoded subject and text body). Options make it offer STARTTLS, speak TLS
from the start (smtps), or require a login, so the tests reach each of s3s3's SMTP errors.
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

parser = argparse.ArgumentParser()
parser.add_argument('--dir', required=True)
parser.add_argument('--cert', help='PEM certificate: offer STARTTLS (or smtps with --implicit-tls)')
parser.add_argument('--key')
parser.add_argument('--implicit-tls', action='store_true')
parser.add_argument('--auth', help='USER:PASSWORD a client must log in with')
parser.add_argument('--auth-without-tls', action='store_true', help='offer AUTH before STARTTLS')
parser.add_argument('--reject-rcpt', help='refuse (550) every recipient at this domain')
args = parser.parse_args()


def tls_context():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    return ctx


class Save:
    count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if args.reject_rcpt and address.lower().endswith('@' + args.reject_rcpt.lower()):
            return '550 5.1.1 <%s>: mailbox unavailable' % address
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        Save.count += 1
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        body = msg.get_body(('plain',))
        record = {
            'mail_from': envelope.mail_from,
            'rcpt_tos': envelope.rcpt_tos,
            'login': session.login_data.decode() if isinstance(session.login_data, bytes) else None,
            # STARTTLS sets session.ssl; smtps shows on the transport.
            'tls': session.ssl is not None or server.transport.get_extra_info('sslcontext') is not None,
            'from': str(msg['from']),
            'to': str(msg['to']),
            'subject': str(msg['subject']),
            'text': body.get_content() if body is not None else '',
        }
        path = os.path.join(args.dir, '%06d.json' % Save.count)
        with open(path + '.tmp', 'w') as f:
            json.dump(record, f)
        os.rename(path + '.tmp', path)
        return '250 OK'


def authenticator(server, session, envelope, mechanism, auth_data):
    user, _, password = args.auth.partition(':')
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    # handled=False: aiosmtpd itself answers 535 to a failed login.
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


async def main():
    starttls = args.cert is not None and not args.implicit_tls

    def factory():
        return SMTP(
            Save(),
            hostname='s3s3-test-smtp',
            tls_context=tls_context() if starttls else None,
            require_starttls=False,
            auth_required=args.auth is not None,
            auth_require_tls=not args.auth_without_tls,
            authenticator=authenticator if args.auth else None,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, '127.0.0.1', 0, ssl=tls_context() if args.implicit_tls else None)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
