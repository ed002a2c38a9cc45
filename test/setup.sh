#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian machine: the real servers
# (Ceph RGW, Swift with s3api, Redis) from Debian's packages and the npm dependencies (pm2 among
# them, for test/cli/deploy-run.test.ts).
# As root it installs what is missing with apt-get; otherwise it says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(ceph-mon ceph-osd radosgw ceph-common swift swift-proxy swift-account swift-container
  swift-object python3-swift memcached redis-server curl procps
  openssl  # test/servers/test-ca.sh makes the CA and certificates for the TLS tests
  python3-boto  # boto 2: the independent signature v2 oracle of test/unit/sigv2.test.ts
  python3-aiosmtpd  # the real SMTP server of test/cli/notify.test.ts (test/helpers/smtp-server.py)
  prometheus  # promtool and prometheus: test/unit/prometheus-rules.test.ts, test/integration/prometheus.test.ts
  supervisor)  # supervisord runs extras/s3s3.supervisord.conf's programs in test/cli/deploy-run.test.ts

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "s3s3 setup: missing Debian packages: ${missing[*]}" >&2
    echo "s3s3 setup: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "s3s3 setup: installing ${missing[*]}" >&2
  # Installing Ceph and Swift would start their services on 0.0.0.0; policy-rc.d forbids that.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "s3s3 setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
