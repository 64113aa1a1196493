#!/bin/sh
# Certificates for tests that need a TLS peer Hark did not write, made with Debian's openssl:
#   test_ca.sh DIR CA            a CA: DIR/CA-ca.pem and DIR/CA-ca.key
#   test_ca.sh DIR CA SERVER     also a certificate for 127.0.0.1 and localhost signed by it:
#                                DIR/SERVER.pem and DIR/SERVER.key
# EC P-256 keys, valid two days.
set -eu
dir=$1 ca=$2 server=${3:-}
cd "$dir"
if [ ! -f "$ca-ca.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$ca-ca.key" -out "$ca-ca.pem" -days 2 -subj "/CN=Hark test CA $ca" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
fi
[ -n "$server" ] || exit 0
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$server.ext"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$server.key" -out "$server.csr" -subj /CN=localhost 2>/dev/null
openssl x509 -req -in "$server.csr" -CA "$ca-ca.pem" -CAkey "$ca-ca.key" \
    -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days 2 -extfile "$server.ext" -out "$server.pem" 2>/dev/null
