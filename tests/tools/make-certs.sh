#!/usr/bin/env bash
# make-certs.sh DIR -- a private PKI for TLS tests, made with the openssl
# command line: the same set test_tls makes in memory with OpenSSL's API
# (tests/unit/tls_testcerts.h), for the script-level and end-to-end tests
# (a TLS echo driven by openssl s_client, Python's ssl, curl).  ECDSA
# P-256 keys, SHA-256 signatures; every subject is "O=host test, CN=...".
#
# Files in DIR (NAME.pem the certificate, NAME.key its key, PKCS#8 PEM):
#   ca          "host test CA", self-signed root (10 years)
#   inter       an intermediate CA under ca
#   server      CN=localhost, SAN DNS:localhost, IP:127.0.0.1 (by ca)
#   a, b        CN and SAN a.example, b.example (by ca)
#   chain       CN/SAN chain.example by inter; chain.pem = leaf + inter
#   expired     like server, valid 2000-01-01 to 2000-01-02 only
#   client      CN=client, extendedKeyUsage clientAuth (by ca)
#   other-ca    another root; rogue (CN=rogue, clientAuth) is by it
#   garbage.pem not PEM; empty.pem empty (for configuration errors)
#
# Leaf certificates are valid for a year from now; make them again when
# they run out.  Needs only `openssl` (Debian: the openssl package).  The
# scratch files (requests, the small CA database `openssl ca` wants for
# the back-dated certificate) are removed again.

set -euo pipefail
die() { echo "make-certs.sh: $*" >&2; exit 1; }

(( $# == 1 )) || die "usage: $0 DIR"
command -v openssl >/dev/null || die "needs the openssl command (apt-get install openssl)"
mkdir -p "$1" || die "cannot create $1"
dir=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/make-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
serial=1000

key() { # NAME: a P-256 key
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$dir/$1.key" 2>/dev/null
}

# ext PROFILE [SAN]: writes the extensions of a certificate to $work/ext
ext() {
    case $1 in
    ca)     printf '%s\n' "basicConstraints = critical,CA:TRUE" \
                          "keyUsage = critical,keyCertSign,cRLSign" ;;
    server) printf '%s\n' "basicConstraints = CA:FALSE" \
                          "keyUsage = critical,digitalSignature" \
                          "extendedKeyUsage = serverAuth" \
                          "subjectAltName = $2" ;;
    client) printf '%s\n' "basicConstraints = CA:FALSE" \
                          "keyUsage = critical,digitalSignature" \
                          "extendedKeyUsage = clientAuth" ;;
    esac >"$work/ext"
}

# root NAME CN: a self-signed CA
root() {
    key "$1"
    ext ca
    openssl req -new -key "$dir/$1.key" -subj "/O=host test/CN=$2" \
        -out "$work/$1.csr"
    openssl x509 -req -in "$work/$1.csr" -key "$dir/$1.key" -days 3650 \
        -sha256 -set_serial $((serial++)) -extfile "$work/ext" \
        -out "$dir/$1.pem" 2>/dev/null
}

# cert NAME CN ISSUER PROFILE [SAN]: a certificate signed by ISSUER
cert() {
    key "$1"
    ext "$4" "${5:-}"
    openssl req -new -key "$dir/$1.key" -subj "/O=host test/CN=$2" \
        -out "$work/$1.csr"
    openssl x509 -req -in "$work/$1.csr" -CA "$dir/$3.pem" \
        -CAkey "$dir/$3.key" -days "$( [[ $4 == ca ]] && echo 3650 || echo 365)" \
        -sha256 -set_serial $((serial++)) -extfile "$work/ext" \
        -out "$dir/$1.pem" 2>/dev/null
}

# expired NAME CN ISSUER SAN: back-dated with `openssl ca`, the one
# command that takes explicit dates in OpenSSL 3.0.
expired() {
    key "$1"
    ext server "$4"
    openssl req -new -key "$dir/$1.key" -subj "/O=host test/CN=$2" \
        -out "$work/$1.csr"
    : >"$work/index.txt"
    cat >"$work/ca.cnf" <<CNF
[ca]
default_ca = back
[back]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
organizationName = optional
commonName = supplied
CNF
    printf '%06X\n' $((serial++)) >"$work/serial"   # an even number of digits
    openssl ca -batch -notext -config "$work/ca.cnf" -cert "$dir/$3.pem" \
        -keyfile "$dir/$3.key" -in "$work/$1.csr" -out "$dir/$1.pem" \
        -startdate 20000101000000Z -enddate 20000102000000Z \
        -extfile "$work/ext" 2>/dev/null
}

root ca "host test CA"
cert inter "host test intermediate" ca ca
cert server localhost ca server "DNS:localhost,IP:127.0.0.1"
cert a a.example ca server "DNS:a.example"
cert b b.example ca server "DNS:b.example"
cert chain chain.example inter server "DNS:chain.example"
cat "$dir/inter.pem" >>"$dir/chain.pem"
expired expired localhost ca "DNS:localhost,IP:127.0.0.1"
cert client client ca client
root other-ca "other CA"
cert rogue rogue other-ca client
printf 'this is not PEM\n' >"$dir/garbage.pem"
: >"$dir/empty.pem"

# The set must hold together: fail here rather than in a test.
openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" "$dir/a.pem" \
    "$dir/b.pem" "$dir/client.pem" >/dev/null
openssl verify -CAfile "$dir/ca.pem" -untrusted "$dir/inter.pem" \
    "$dir/chain.pem" >/dev/null
openssl verify -CAfile "$dir/other-ca.pem" "$dir/rogue.pem" >/dev/null
! openssl verify -CAfile "$dir/ca.pem" "$dir/expired.pem" >/dev/null 2>&1 \
    || die "expired.pem is not expired"
echo "make-certs.sh: test certificates in $dir" >&2
