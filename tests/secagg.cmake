# Secure aggregation (crypto/: prg, shamir, secagg) — owned by the secagg part.
pfl_add_test(test_prg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_prg.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 60)
pfl_add_test(test_shamir SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_shamir.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 60)
pfl_add_test(test_secagg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_secagg.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 120)
pfl_add_test(test_secagg_plus SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_secagg_plus.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 300 LABELS slow)
pfl_add_test(test_secagg_attack SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_secagg_attack.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 180)
pfl_add_test(test_secagg_malicious SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_secagg_malicious.c
	DEPS pfl_crypto PkgConfig::SODIUM TIMEOUT 120)

# privfl enroll-authority / enroll / enroll-verify, end to end.
if(TARGET privfl)
	add_test(NAME enroll_cli COMMAND sh -c "
set -e
d=$(mktemp -d)
trap 'rm -rf \"$d\"' EXIT
p=$<TARGET_FILE:privfl>
$p enroll-authority --out $d/ca | grep -q '^enrollment authority pfl1:'
test \"$(stat -c %a $d/ca/identity.key)\" = 600
if $p enroll-authority --out $d/ca 2>/dev/null; then exit 1; fi
$p keygen --out $d/c1 > /dev/null
$p keygen --out $d/c2 > /dev/null
$p enroll --authority $d/ca --client-key $d/c1 --federation f1 --out $d/c1.cert | grep -q '^enrolled pfl1:'
grep -q '^pfl-enroll-v1 ' $d/c1.cert
$p enroll-verify --authority $d/ca --federation f1 $d/c1.cert | grep -q 'valid certificate'
# another federation, another authority, an expired or tampered certificate
if $p enroll-verify --authority $d/ca --federation f2 $d/c1.cert 2>/dev/null; then exit 1; fi
if $p enroll-verify --authority $d/c2 --federation f1 $d/c1.cert 2>/dev/null; then exit 1; fi
$p enroll --authority $d/ca --client-key $d/c2/identity.pub --federation f1 --out $d/old.cert --not-before 1000 --days 1 > /dev/null
if $p enroll-verify --authority $d/ca/identity.pub --federation f1 $d/old.cert 2>/dev/null; then exit 1; fi
awk '{c=substr($0,60,1); r=(c==\"A\")?\"B\":\"A\"; print substr($0,1,59) r substr($0,61)}' $d/c1.cert > $d/bad.cert
cmp -s $d/c1.cert $d/bad.cert && exit 1
if $p enroll-verify --authority $d/ca --federation f1 $d/bad.cert 2>/dev/null; then exit 1; fi
# usage errors
if $p enroll --authority $d/ca 2>/dev/null; then exit 1; fi
exit 0
")
	set_tests_properties(enroll_cli PROPERTIES TIMEOUT 60)
endif()

# Enrollment certificates through the daemons (tcp://).
if(TARGET privfl)
	foreach(mode good wrong)
		add_test(NAME integration_enroll_${mode}
			COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration_enroll.sh ${PROJECT_BINARY_DIR} ${mode})
		set_tests_properties(integration_enroll_${mode} PROPERTIES TIMEOUT 300
			LABELS integration)
	endforeach()
endif()
# The memo of pfl_sa_choose_params_min answers as the search does.
pfl_add_test(test_sa_params SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sa_params.c
	DEPS pfl_crypto pfl_common PkgConfig::SODIUM Threads::Threads TIMEOUT 120)
