# Identities and the allow-list (crypto/ identity part).
pfl_add_test(test_identity SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_identity.c
	DEPS pfl_crypto PkgConfig::SODIUM Threads::Threads)
pfl_add_test(test_keyset SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_keyset.c
	DEPS pfl_crypto PkgConfig::SODIUM)

# The privfl keygen / fingerprint / certs commands, end to end.
if(TARGET privfl)
	add_test(NAME trust_cli COMMAND sh -c "
set -e
d=$(mktemp -d)
trap 'rm -rf \"$d\"' EXIT
p=$<TARGET_FILE:privfl>
$p keygen --out $d/id > $d/out
grep -q '^pfl-ed25519 ' $d/out
test \"$(stat -c %a $d/id/identity.key)\" = 600
$p fingerprint $d/id | grep -q '^pfl1:[a-z2-7]\\{18\\}  '
if $p keygen --out $d/id 2>/dev/null; then exit 1; fi
$p keygen --out $d/id --force > /dev/null
if $p fingerprint $d/id/identity.key 2>/dev/null; then exit 1; fi
if command -v openssl > /dev/null; then
  $p certs --out $d/tls --name agg.test > /dev/null
  test -s $d/tls/server-cert-key.pem
  test \"$(stat -c %a $d/tls/ca.key)\" = 600
  openssl verify -CAfile $d/tls/ca.pem $d/tls/server.pem > /dev/null
fi
")
	set_tests_properties(trust_cli PROPERTIES TIMEOUT 60)
endif()
