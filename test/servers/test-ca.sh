#!/usr/bin/env bash
# Sourced by the server scripts: a throw-away CA and a server certificate for 127.0.0.1,
# so tests can prove that s3s3 trusts a private CA only when told to (ca_bundle).
#   make_test_ca DIR   -> DIR/ca.pem (the CA to trust), DIR/server.pem, DIR/server.key
# EC keys: made in milliseconds. The CA key is deleted once the certificate is signed.
make_test_ca() {
  local dir=$1
  mkdir -p "$dir"
  (
    cd "$dir"
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
      -days 30 -subj "/CN=s3s3 test CA $$" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
      -subj "/CN=127.0.0.1"
    printf '%s\n' 'subjectAltName=IP:127.0.0.1' 'basicConstraints=CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 30 \
      -extfile server.ext
    rm -f ca.key ca.srl server.csr server.ext
    chmod 644 ca.pem server.pem
  ) >"$dir/openssl.out" 2>&1
}
