/**
 * A real SMTP server for the report tests (test/helpers/smtp-server.py on Debian's
 * python3-aiosmtpd, run by Debian's interpreter), and a test CA for its TLS variants.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Debian's interpreter on purpose: a pyenv "python3" earlier on PATH has no aiosmtpd.
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, 'smtp-server.py');

export interface ReceivedMail {
  readonly mail_from: string;
  readonly rcpt_tos: string[];
  /** The user that logged in, if any. */
  readonly login: string | null;
  /** The session ran over TLS (STARTTLS or smtps). */
  readonly tls: boolean;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

export interface SmtpOptions {
  /** Certificate and key (PEM files): offer STARTTLS, or speak TLS from the start with `implicitTls`. */
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly implicitTls?: boolean;
  /** Require this login. */
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Offer AUTH before STARTTLS (default: only after). */
  readonly authWithoutTls?: boolean;
  /** Refuse (550) every recipient at this domain. */
  readonly rejectRcptDomain?: string;
}

export class SmtpServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(options: SmtpOptions = {}): Promise<SmtpServer> {
    if (!existsSync(PYTHON) || spawnSyncOk(['-c', 'import aiosmtpd']) === false) {
      throw new Error(`${PYTHON} cannot import aiosmtpd: install Debian's python3-aiosmtpd (bash test/setup.sh)`);
    }
    const dir = mkdtempSync(join(tmpdir(), 's3s3-smtp-'));
    const args = [SCRIPT, '--dir', dir];
    if (options.tls) args.push('--cert', options.tls.cert, '--key', options.tls.key);
    if (options.implicitTls) args.push('--implicit-tls');
    if (options.auth) args.push('--auth', `${options.auth.user}:${options.auth.pass}`);
    if (options.authWithoutTls) args.push('--auth-without-tls');
    if (options.rejectRcptDomain) args.push('--reject-rcpt', options.rejectRcptDomain);
    const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^(\d+)\n/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`smtp-server.py exited (${code}): ${stderr}`)));
    });
    return new SmtpServer(port, dir, child);
  }

  /** The messages received so far, in order. */
  messages(): ReceivedMail[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as ReceivedMail);
  }

  close(): void {
    this.child.kill();
  }
}

function spawnSyncOk(args: string[]): boolean {
  try {
    execFileSync(PYTHON, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A throw-away CA and a certificate for 127.0.0.1 (test/servers/test-ca.sh): DIR/ca.pem, server.pem, server.key. */
export function makeTestCa(): { dir: string; ca: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 's3s3-ca-'));
  const script = join(import.meta.dirname, '../servers/test-ca.sh');
  execFileSync('bash', ['-c', `. "$0"; make_test_ca "$1"`, script, dir]);
  return { dir, ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}
