#!/usr/bin/python3
"""Helper for test/servers/swift.sh: run Swift from a private directory.

    swift_aio.py rings SWIFT_DIR ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT
        Build account/container/object rings: 1 replica, one device "d1"
        (a plain directory under SWIFT_DIR/data) on 127.0.0.1.
    swift_aio.py serve SWIFT_DIR SERVER LOG_FILE
        Run SERVER (proxy|account|container|object) in the foreground from
        SWIFT_DIR/SERVER-server.conf, logging to LOG_FILE.

Must run with Debian's /usr/bin/python3 (that is where python3-swift lives;
a pyenv "python3" first on PATH has no swift module).

Swift normally insists on /etc/swift: swift.common.utils reads
/etc/swift/swift.conf the moment it is imported, and constraints and storage
policies are read from it when their modules are imported. We forbid every
open under /etc/swift with an audit hook (the import-time read treats the
error like a missing file), then point Swift at SWIFT_DIR with set_swift_dir
before anything else of Swift is imported. Logging goes to a file, because
Swift's syslog handler falls back to a UDP socket when /dev/log is absent.
"""
import logging
import os
import sys
import time

FORBIDDEN = ('/etc/swift', b'/etc/swift')


def forbid_etc_swift():
    def hook(event, args):
        if event == 'open' and args and isinstance(args[0], (str, bytes)) \
                and args[0].startswith(FORBIDDEN[isinstance(args[0], bytes)]):
            raise PermissionError('swift_aio: %r is off limits' % (args[0],))
    sys.addaudithook(hook)


def use_swift_dir(swift_dir):
    forbid_etc_swift()
    from swift.common import utils
    # Reads SWIFT_DIR/swift.conf (hash prefix/suffix); exits if it is bad.
    utils.set_swift_dir(swift_dir)
    assert 'swift.common.constraints' not in sys.modules, \
        'constraints were loaded before set_swift_dir'
    assert 'swift.common.storage_policy' not in sys.modules, \
        'storage policies were loaded before set_swift_dir'
    return utils


def build_rings(swift_dir, account_port, container_port, object_port):
    use_swift_dir(swift_dir)
    from swift.common.ring import RingBuilder
    for name, port in (('account', account_port),
                       ('container', container_port),
                       ('object', object_port)):
        # part_power 6 (64 partitions) is plenty for one device; min_part_hours
        # 0 because nobody ever rebalances these rings again.
        builder = RingBuilder(6, 1, 0)
        builder.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1',
                         'port': int(port), 'device': 'd1', 'weight': 1.0,
                         'meta': ''})
        builder.rebalance()
        builder.get_ring().save(os.path.join(swift_dir, name + '.ring.gz'))


def serve(swift_dir, server, log_file):
    utils = use_swift_dir(swift_dir)

    class FileLogHandler(logging.FileHandler):
        """Stands in for Swift's syslog handler; one line per record."""
        def __init__(self, *args, **kwargs):
            super().__init__(log_file, mode='a', encoding='utf-8')

        def createLock(self):
            # Same lock as Swift's ThreadSafeSysLogHandler: safe for both
            # green threads and the real threads of eventlet's tpool.
            self.lock = utils.PipeMutex()

        def format(self, record):
            stamp = time.strftime('%Y-%m-%dT%H:%M:%SZ',
                                  time.gmtime(record.created))
            return '%s %s' % (stamp, super().format(record))

    utils.ThreadSafeSysLogHandler = FileLogHandler

    from swift.common.wsgi import run_wsgi
    conf = os.path.join(swift_dir, '%s-server.conf' % server)
    kwargs = {}
    if server == 'object':
        from swift.obj import server as object_server
        kwargs['global_conf_callback'] = object_server.global_conf_callback
    return run_wsgi(conf, '%s-server' % server, **kwargs)


def main(argv):
    if len(argv) == 6 and argv[1] == 'rings':
        build_rings(*argv[2:])
        return 0
    if len(argv) == 5 and argv[1] == 'serve' and \
            argv[3] in ('proxy', 'account', 'container', 'object'):
        return serve(*argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
