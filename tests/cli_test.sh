#!/usr/bin/env bash
# Black-box checks of the executable's own command line and its man page (run by ctest):
#   --version names the gateway and every library with a version; --help fits an
#   80-column terminal and every option it lists is documented in the man page; the man
#   page renders without groff warnings; a bad flag exits 2 with a hint.
# usage: tests/cli_test.sh path/to/boshgate path/to/boshgate.8
set -euo pipefail
bin=$1
man=$2
fail() { echo "cli_test: $*" >&2; exit 1; }

version=$("$bin" --version)
echo "$version"
for want in '^boshgate [0-9]+\.[0-9]+\.[0-9]+ \(' 'Boost 1\.81\.' 'OpenSSL: built with OpenSSL 3\.' \
            'expat: built with 2\.[0-9]+\.[0-9]+, running expat_2\.' 'c-ares: built with 1\.[0-9.]+, running 1\.' \
            'spdlog [0-9.]+, fmt [0-9.]+, toml11 [0-9.]+'; do
  grep -Eq -- "$want" <<<"$version" || fail "--version lacks /$want/"
done

help=$("$bin" --help)
awk 'length($0) > 80 { print "line " NR " is " length($0) " columns: " $0; bad = 1 } END { exit bad }' <<<"$help" \
  || fail "--help is wider than 80 columns"
opts=$(grep -Eo -- '--[a-z][a-z-]+' <<<"$help" | sort -u)
[[ -n $opts ]] || fail "--help lists no options"
for o in $opts; do
  grep -q -- "${o//-/\\\\-}" "$man" || fail "option $o (from --help) is not in $man"
done

warnings=$(groff -man -ww -z -Tutf8 "$man" 2>&1)
[[ -z $warnings ]] || fail "groff warnings for $man: $warnings"

set +e
out=$("$bin" --no-such-flag 2>&1)
rc=$?
set -e
[[ $rc -eq 2 ]] || fail "--no-such-flag exited $rc, not 2"
grep -q "Try 'boshgate --help'" <<<"$out" || fail "--no-such-flag printed no hint: $out"
echo "cli_test: ok ($(wc -w <<<"$opts") options checked against $man)"
