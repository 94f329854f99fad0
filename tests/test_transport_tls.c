/* tls+tcp://: the right CA works, a wrong CA or name fails clearly. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "privfl/tls.h"
#include "privfl/transport.h"

static char tmpdir[256], dir_a[300], dir_b[300];
static bool have_openssl;

static int
group_setup(void **state)
{
	static const char *const names[] = {"agg.example", "10.1.2.3"};
	pfl_err rv;
	(void)state;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pfl_test_tls.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(dir_a, sizeof(dir_a), "%s/a", tmpdir);
	snprintf(dir_b, sizeof(dir_b), "%s/b", tmpdir);
	rv = pfl_tls_make_certs(dir_a, names, 2, 30, false);
	if (rv == PFL_ERR_NOTFOUND)
		return 0; /* no openssl: the tests skip */
	if (rv != PFL_OK || pfl_tls_make_certs(dir_b, NULL, 0, 30, false))
		return -1;
	have_openssl = true;
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	nng_fini();
	return system(cmd) == 0 ? 0 : -1;
}

static void
echo(void *arg, const uint8_t *req, size_t len, struct pfl_buf *reply)
{
	(void)arg;
	if (pfl_buf_append(reply, "ok:", 3) != PFL_OK ||
	    pfl_buf_append(reply, req, len) != PFL_OK)
		pfl_buf_clear(reply);
}

static void
path_in(char *out, size_t cap, const char *dir, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static void
test_files(void **state)
{
	static const char *const files[] = {"ca.pem", "ca.key", "server.pem",
	                                    "server.key",
	                                    "server-cert-key.pem"};
	char p[400];
	struct stat st;
	(void)state;

	if (!have_openssl)
		skip();
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		path_in(p, sizeof(p), dir_a, files[i]);
		assert_int_equal(stat(p, &st), 0);
		assert_true(st.st_size > 100);
		if (strstr(files[i], "key") != NULL)
			assert_int_equal(st.st_mode & 077, 0);
	}
	path_in(p, sizeof(p), dir_a, "server.csr");
	assert_int_not_equal(access(p, F_OK), 0);
	/* no silent overwrite of a CA */
	assert_int_equal(pfl_tls_make_certs(dir_a, NULL, 0, 30, false),
	                 PFL_ERR_STATE);
	{
		const char *bad[] = {"a b"};
		assert_int_equal(pfl_tls_make_certs(dir_a, bad, 1, 30, true),
		                 PFL_ERR_INVAL);
	}
}

static struct pfl_server *
start_server(const char *dir, char *url, size_t cap)
{
	struct pfl_transport_opts o = {.timeout_ms = 5000};
	struct pfl_server *s = NULL;
	char bundle[400];

	path_in(bundle, sizeof(bundle), dir, "server-cert-key.pem");
	o.tls_cert_key_file = bundle;
	assert_int_equal(
	        pfl_server_open("tls+tcp://127.0.0.1:0", &o, echo, NULL, &s),
	        PFL_OK);
	snprintf(url, cap, "tls+tcp://127.0.0.1:%d", pfl_server_port(s));
	return s;
}

static pfl_err
dial(const char *url, const char *cadir, const char *name, struct pfl_conn **c)
{
	struct pfl_transport_opts o = {.timeout_ms = 5000};
	char ca[400];

	path_in(ca, sizeof(ca), cadir, "ca.pem");
	o.tls_ca_file = ca;
	o.tls_server_name = name;
	return pfl_conn_open(url, &o, c);
}

static void
test_right_ca(void **state)
{
	char url[64];
	struct pfl_server *s;
	struct pfl_conn *c = NULL;
	struct pfl_buf r;
	(void)state;

	if (!have_openssl)
		skip();
	s = start_server(dir_a, url, sizeof(url));
	for (int i = 0; i < 3; i++) {
		const char *name = i == 0   ? NULL
		                   : i == 1 ? "localhost"
		                            : "agg.example";
		c = NULL;
		assert_int_equal(dial(url, dir_a, name, &c), PFL_OK);
		pfl_buf_init(&r, 0);
		assert_int_equal(pfl_conn_call(c, (const uint8_t *)"hi", 2, &r),
		                 PFL_OK);
		assert_int_equal(r.len, 5);
		assert_memory_equal(r.data, "ok:hi", 5);
		pfl_buf_fini(&r);
		pfl_conn_close(c);
	}
	pfl_server_close(s);
}

static void
test_wrong_ca_and_name(void **state)
{
	char url[64], plain[64];
	struct pfl_server *s;
	struct pfl_conn *c = NULL;
	(void)state;

	if (!have_openssl)
		skip();
	s = start_server(dir_a, url, sizeof(url));
	/* a CA that did not sign the server certificate */
	assert_int_equal(dial(url, dir_b, NULL, &c), PFL_ERR_CRYPTO);
	assert_null(c);
	/* the right CA, but a name the certificate does not carry */
	assert_int_equal(dial(url, dir_a, "evil.example", &c), PFL_ERR_CRYPTO);
	assert_null(c);
	/* plain tcp against a TLS port gets no answer */
	{
		struct pfl_transport_opts o = {.timeout_ms = 500};
		struct pfl_buf r;
		snprintf(plain, sizeof(plain), "tcp%s", url + 7);
		assert_int_equal(pfl_conn_open(plain, &o, &c), PFL_OK);
		pfl_buf_init(&r, 0);
		assert_int_not_equal(
		        pfl_conn_call(c, (const uint8_t *)"x", 1, &r), PFL_OK);
		pfl_buf_fini(&r);
		pfl_conn_close(c);
	}
	/* and the server still serves a good client */
	c = NULL;
	assert_int_equal(dial(url, dir_a, NULL, &c), PFL_OK);
	pfl_conn_close(c);
	/*
	 * nng 1.5.2 leaks connections whose failed handshake is still being
	 * torn down when the socket closes (fixed in 1.6.0): let them finish
	 * so that LeakSanitizer reports only our own leaks.
	 */
	nng_msleep(500);
	pfl_server_close(s);
}

/*
 * A server certificate from the same CA for another host, made with the
 * openssl tool as an attacker holding such a certificate would have it:
 * dir/other-cert-key.pem names only SAN (DNS or IP as given) and CN cn.
 */
static void
make_other_cert(const char *dir, const char *cn, const char *san)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && "
	         "openssl req -new -newkey ec -pkeyopt "
	         "ec_paramgen_curve:P-256 -nodes -keyout o.key -out o.csr "
	         "-subj '/CN=%s' -addext 'subjectAltName=%s' "
	         "-addext 'extendedKeyUsage=serverAuth' 2>/dev/null && "
	         "openssl x509 -req -in o.csr -CA '%s/ca.pem' -CAkey "
	         "'%s/ca.key' -CAcreateserial -out o.pem -days 30 "
	         "-copy_extensions copyall 2>/dev/null && "
	         "cat o.pem o.key > other-cert-key.pem",
	         dir, cn, san, dir_a, dir_a);
	assert_int_equal(system(cmd), 0);
}

static struct pfl_server *
start_other(const char *dir, char *url, size_t cap)
{
	struct pfl_transport_opts o = {.timeout_ms = 5000};
	struct pfl_server *s = NULL;
	char bundle[400];

	path_in(bundle, sizeof(bundle), dir, "other-cert-key.pem");
	o.tls_cert_key_file = bundle;
	assert_int_equal(
	        pfl_server_open("tls+tcp://127.0.0.1:0", &o, echo, NULL, &s),
	        PFL_OK);
	snprintf(url, cap, "tls+tcp://127.0.0.1:%d", pfl_server_port(s));
	return s;
}

/*
 * Issue #11 item 8: with no tls_server_name the expected name is the URL's
 * host. A certificate from the trusted CA for another host is refused; it
 * is accepted only when that other name is asked for explicitly.
 */
static void
test_default_name_is_url_host(void **state)
{
	char dir[300], url[64];
	struct pfl_server *s;
	struct pfl_conn *c = NULL;
	(void)state;

	if (!have_openssl)
		skip();
	snprintf(dir, sizeof(dir), "%s/other", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	make_other_cert(dir, "other.example", "DNS:other.example");
	s = start_other(dir, url, sizeof(url));
	/* the attack: dial 127.0.0.1, get other.example's certificate */
	assert_int_equal(dial(url, dir_a, NULL, &c), PFL_ERR_CRYPTO);
	assert_null(c);
	assert_int_equal(dial(url, dir_a, "", &c), PFL_ERR_CRYPTO);
	assert_null(c);
	/* asked for by name, the same certificate is fine */
	assert_int_equal(dial(url, dir_a, "other.example", &c), PFL_OK);
	pfl_conn_close(c);
	nng_msleep(500); /* see test_wrong_ca_and_name */
	pfl_server_close(s);
}

/*
 * The shipped certificates work with the default name for both hosts the
 * quick start uses: the IP literal 127.0.0.1 and localhost.
 */
static void
test_default_name_localhost_and_ip(void **state)
{
	char url[64], alt[64];
	struct pfl_server *s;
	struct pfl_conn *c = NULL;
	struct pfl_buf r;
	(void)state;

	if (!have_openssl)
		skip();
	s = start_server(dir_a, url, sizeof(url));
	snprintf(alt, sizeof(alt), "tls+tcp://localhost:%d",
	         pfl_server_port(s));
	for (int i = 0; i < 2; i++) {
		c = NULL;
		assert_int_equal(dial(i == 0 ? url : alt, dir_a, NULL, &c),
		                 PFL_OK);
		pfl_buf_init(&r, 0);
		assert_int_equal(pfl_conn_call(c, (const uint8_t *)"hi", 2, &r),
		                 PFL_OK);
		assert_memory_equal(r.data, "ok:hi", 5);
		pfl_buf_fini(&r);
		pfl_conn_close(c);
	}
	pfl_server_close(s);
}

static void
test_bad_material(void **state)
{
	struct pfl_transport_opts o = {.timeout_ms = 500};
	struct pfl_server *s = NULL;
	struct pfl_conn *c = NULL;
	char p[400];
	(void)state;

	if (!have_openssl)
		skip();
	/* files that do not exist */
	o.tls_ca_file = "/nonexistent/ca.pem";
	assert_int_equal(pfl_conn_open("tls+tcp://127.0.0.1:1", &o, &c),
	                 PFL_ERR_CONFIG);
	o.tls_cert_key_file = "/nonexistent/server.pem";
	assert_int_equal(
	        pfl_server_open("tls+tcp://127.0.0.1:0", &o, echo, NULL, &s),
	        PFL_ERR_CONFIG);
	/* a certificate without its key */
	path_in(p, sizeof(p), dir_a, "server.pem");
	o.tls_cert_key_file = p;
	assert_int_equal(
	        pfl_server_open("tls+tcp://127.0.0.1:0", &o, echo, NULL, &s),
	        PFL_ERR_CONFIG);
	assert_null(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_files),
	        cmocka_unit_test(test_right_ca),
	        cmocka_unit_test(test_wrong_ca_and_name),
	        cmocka_unit_test(test_default_name_is_url_host),
	        cmocka_unit_test(test_default_name_localhost_and_ip),
	        cmocka_unit_test(test_bad_material),
	};
	return cmocka_run_group_tests_name("transport_tls", tests, group_setup,
	                                   group_teardown);
}
