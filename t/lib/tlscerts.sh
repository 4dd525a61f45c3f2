# t/lib/tlscerts.sh - a test CA and server certificates, made with
# openssl(1) when a test runs (nothing that expires is kept in the tree).
# Source it after common.sh.
#
#   make_ca DIR                 DIR/ca.crt, DIR/ca.key: "mta test CA"
#   make_cert DIR NAME CN TYPE [SERIAL]
#                               DIR/NAME.key, DIR/NAME.crt (signed by the
#                               CA, subjectAltName DNS:CN and the
#                               address 127.0.0.1, which clients that
#                               cannot name the host check) and
#                               DIR/NAME-chain.crt (certificate, then the
#                               CA); TYPE rsa or ec; SERIAL in hex
#   make_cert_names DIR NAME TYPE HOST...
#                               the same for several names: CN the first
#                               HOST, subjectAltName DNS: each HOST
# Both print nothing and fail (with openssl's words on stderr) on error.

make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1/ca.key" -out "$1/ca.crt" -days 2 \
		-subj "/CN=mta test CA" 2>"$1/ca.err" >/dev/null
}

make_cert() {
	local dir=$1 name=$2 cn=$3 type=$4 serial=${5:-}
	local newkey serialopt="-CAcreateserial"
	[ -n "$serial" ] && serialopt="-set_serial 0x$serial"
	case $type in
	rsa) newkey="-newkey rsa:2048" ;;
	ec)  newkey="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
	*)   echo "make_cert: type rsa or ec" >&2; return 1 ;;
	esac
	printf 'subjectAltName=%s\n' "${CERT_SAN:-DNS:$cn,IP:127.0.0.1}" >"$dir/$name.ext"
	# shellcheck disable=SC2086
	openssl req $newkey -nodes -keyout "$dir/$name.key" -out "$dir/$name.csr" \
		-subj "/CN=$cn" 2>"$dir/$name.err" >/dev/null &&
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		$serialopt \
		-days 2 -extfile "$dir/$name.ext" -out "$dir/$name.crt" \
		2>>"$dir/$name.err" >/dev/null &&
	cat "$dir/$name.crt" "$dir/ca.crt" >"$dir/$name-chain.crt"
}

make_cert_names() {
	local dir=$1 name=$2 type=$3 san="" h
	shift 3
	for h in "$@"; do san="$san${san:+,}DNS:$h"; done
	CERT_SAN=$san make_cert "$dir" "$name" "$1" "$type"
}
