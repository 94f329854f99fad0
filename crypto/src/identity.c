#include "privfl/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "privfl/file.h"
#include "privfl/log.h"

#define SECRET_TAG "pfl-ed25519-secret"
#define PUBLIC_TAG "pfl-ed25519"
#define B64_32_LEN 44 /* base64 (with padding) of 32 bytes */

struct pfl_identity {
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	pthread_mutex_t mu; /* guards users and the protection of sk */
	int users;          /* signatures in progress */
	uint8_t *sk;        /* sodium_malloc, crypto_sign_SECRETKEYBYTES */
};

_Static_assert(crypto_sign_PUBLICKEYBYTES == PFL_SIGN_PK_BYTES, "pk size");
_Static_assert(crypto_sign_BYTES == PFL_SIG_BYTES, "sig size");
_Static_assert(crypto_sign_SEEDBYTES == PFL_SIGN_SEED_BYTES, "seed size");
_Static_assert(sizeof("pfl1:") - 1 + 18 + 1 == PFL_FINGERPRINT_LEN, "fp");

static pfl_err
identity_alloc(struct pfl_identity **out)
{
	struct pfl_identity *id;

	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return PFL_ERR_NOMEM;
	if ((id->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL) {
		free(id);
		return PFL_ERR_NOMEM;
	}
	if (pthread_mutex_init(&id->mu, NULL) != 0) {
		sodium_free(id->sk);
		free(id);
		return PFL_ERR_NOMEM;
	}
	*out = id;
	return PFL_OK;
}

static void
identity_seal(struct pfl_identity *id)
{
	(void)sodium_mprotect_noaccess(id->sk);
}

pfl_err
pfl_identity_from_seed(const uint8_t seed[PFL_SIGN_SEED_BYTES],
                       struct pfl_identity **out)
{
	struct pfl_identity *id = NULL;
	pfl_err rv;

	if (seed == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if ((rv = identity_alloc(&id)) != PFL_OK)
		return rv;
	if (crypto_sign_seed_keypair(id->pk, id->sk, seed) != 0) {
		pfl_identity_free(id);
		return PFL_ERR_CRYPTO;
	}
	identity_seal(id);
	*out = id;
	return PFL_OK;
}

pfl_err
pfl_identity_generate(struct pfl_identity **out)
{
	uint8_t seed[PFL_SIGN_SEED_BYTES];
	pfl_err rv;

	if (out == NULL)
		return PFL_ERR_INVAL;
	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	randombytes_buf(seed, sizeof(seed));
	rv = pfl_identity_from_seed(seed, out);
	sodium_memzero(seed, sizeof(seed));
	return rv;
}

void
pfl_identity_free(struct pfl_identity *id)
{
	if (id == NULL)
		return;
	sodium_free(id->sk); /* unprotects and wipes */
	pthread_mutex_destroy(&id->mu);
	sodium_memzero(id, sizeof(*id));
	free(id);
}

const uint8_t *
pfl_identity_public(const struct pfl_identity *id)
{
	return id == NULL ? NULL : id->pk;
}

/*
 * The key is PROT_NONE while idle. Concurrent signers share one readonly
 * window: the first opens it, the last closes it.
 */
static void
sk_hold(struct pfl_identity *id)
{
	pthread_mutex_lock(&id->mu);
	if (id->users++ == 0)
		(void)sodium_mprotect_readonly(id->sk);
	pthread_mutex_unlock(&id->mu);
}

static void
sk_rele(struct pfl_identity *id)
{
	pthread_mutex_lock(&id->mu);
	if (--id->users == 0)
		(void)sodium_mprotect_noaccess(id->sk);
	pthread_mutex_unlock(&id->mu);
}

pfl_err
pfl_identity_sign(const struct pfl_identity *cid, const uint8_t *msg,
                  size_t len, uint8_t sig[PFL_SIG_BYTES])
{
	/* Only the protection state and the user count change. */
	struct pfl_identity *id = (struct pfl_identity *)cid;
	uint8_t tmp[PFL_SIG_BYTES];
	int r;

	if (id == NULL || sig == NULL || (msg == NULL && len > 0))
		return PFL_ERR_INVAL;
	if (msg == NULL)
		msg = (const uint8_t *)"";
	sk_hold(id);
	r = crypto_sign_detached(tmp, NULL, msg, len, id->sk);
	sk_rele(id);
	if (r != 0)
		return PFL_ERR_CRYPTO;
	memcpy(sig, tmp, sizeof(tmp));
	return PFL_OK;
}

pfl_err
pfl_sig_verify(const uint8_t pk[PFL_SIGN_PK_BYTES], const uint8_t *msg,
               size_t len, const uint8_t sig[PFL_SIG_BYTES])
{
	if (pk == NULL || sig == NULL || (msg == NULL && len > 0))
		return PFL_ERR_INVAL;
	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	if (msg == NULL)
		msg = (const uint8_t *)"";
	if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
		return PFL_ERR_CRYPTO;
	return PFL_OK;
}

bool
pfl_pubkey_equal(const uint8_t a[PFL_SIGN_PK_BYTES],
                 const uint8_t b[PFL_SIGN_PK_BYTES])
{
	return sodium_memcmp(a, b, PFL_SIGN_PK_BYTES) == 0;
}

void
pfl_key_fingerprint(const uint8_t pk[PFL_SIGN_PK_BYTES],
                    char out[PFL_FINGERPRINT_LEN])
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	static const uint8_t
	        personal[crypto_generichash_blake2b_PERSONALBYTES] =
	                "privfl-keyfp-v1";
	uint8_t h[32];
	unsigned acc = 0, bits = 0;
	size_t i = 0, o = 5;

	if (sodium_init() < 0)
		abort();
	crypto_generichash_blake2b_salt_personal(
	        h, sizeof(h), pk, PFL_SIGN_PK_BYTES, NULL, 0, NULL, personal);
	memcpy(out, "pfl1:", 5);
	while (o < PFL_FINGERPRINT_LEN - 1) {
		if (bits < 5) {
			acc = (acc << 8) | h[i++];
			bits += 8;
		}
		out[o++] = alphabet[(acc >> (bits - 5)) & 31u];
		bits -= 5;
	}
	out[o] = '\0';
}

/* Decode exactly 32 bytes of canonical padded base64 from s[0..n). */
static pfl_err
b64_decode32(const char *s, size_t n, uint8_t out[32])
{
	char again[B64_32_LEN + 1];
	uint8_t tmp[32];
	size_t got = 0;
	const char *end = NULL;
	pfl_err rv = PFL_ERR_FORMAT;

	if (n != B64_32_LEN)
		return PFL_ERR_FORMAT;
	if (sodium_base642bin(tmp, sizeof(tmp), s, n, NULL, &got, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != 32 || end != s + n)
		goto out;
	sodium_bin2base64(again, sizeof(again), tmp, sizeof(tmp),
	                  sodium_base64_VARIANT_ORIGINAL);
	if (memcmp(again, s, n) != 0)
		goto out;
	memcpy(out, tmp, 32);
	rv = PFL_OK;
out:
	sodium_memzero(tmp, sizeof(tmp));
	sodium_memzero(again, sizeof(again));
	return rv;
}

/*
 * Find the first line of text[0..len) that is neither empty nor a '#'
 * comment. Returns false when there is none or a control character (other
 * than \r before \n, \t) or a NUL appears anywhere.
 */
static bool
first_key_line(const char *text, size_t len, const char **line, size_t *llen)
{
	const char *p = text, *end = text + len;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') ||
		    c == 0x7f)
			return false;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		size_t n = (size_t)(e - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0 && p[0] != '#') {
			*line = p;
			*llen = n;
			return true;
		}
		p = nl ? nl + 1 : end;
	}
	return false;
}

/* Split "TAG TOKEN[ rest]" where the separator is one or more spaces/tabs. */
static bool
split_tag(const char *line, size_t len, const char *tag, const char **tok,
          size_t *toklen)
{
	size_t tl = strlen(tag), i, j;

	if (len <= tl || memcmp(line, tag, tl) != 0 ||
	    (line[tl] != ' ' && line[tl] != '\t'))
		return false;
	for (i = tl; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	for (j = i; j < len && line[j] != ' ' && line[j] != '\t'; j++)
		;
	*tok = line + i;
	*toklen = j - i;
	return j > i;
}

pfl_err
pfl_pubkey_parse_line(const char *line, size_t len,
                      uint8_t pk[PFL_SIGN_PK_BYTES])
{
	const char *l, *tok;
	size_t ll, tl;
	uint8_t tmp[PFL_SIGN_PK_BYTES];

	if (line == NULL || pk == NULL || sodium_init() < 0)
		return PFL_ERR_FORMAT;
	if (!first_key_line(line, len, &l, &ll) ||
	    !split_tag(l, ll, PUBLIC_TAG, &tok, &tl) ||
	    b64_decode32(tok, tl, tmp) != PFL_OK)
		return PFL_ERR_FORMAT;
	if (crypto_core_ed25519_is_valid_point(tmp) != 1)
		return PFL_ERR_FORMAT;
	memcpy(pk, tmp, sizeof(tmp));
	return PFL_OK;
}

void
pfl_pubkey_format_line(const uint8_t pk[PFL_SIGN_PK_BYTES],
                       char out[PFL_PUBKEY_LINE_MAX])
{
	char b64[B64_32_LEN + 1];
	char fp[PFL_FINGERPRINT_LEN];

	if (sodium_init() < 0)
		abort();
	sodium_bin2base64(b64, sizeof(b64), pk, PFL_SIGN_PK_BYTES,
	                  sodium_base64_VARIANT_ORIGINAL);
	pfl_key_fingerprint(pk, fp);
	snprintf(out, PFL_PUBKEY_LINE_MAX, PUBLIC_TAG " %s %s\n", b64, fp);
}

pfl_err
pfl_pubkey_load(const char *path, uint8_t pk[PFL_SIGN_PK_BYTES])
{
	uint8_t *data = NULL;
	size_t len = 0;
	pfl_err rv;

	if (path == NULL || pk == NULL)
		return PFL_ERR_INVAL;
	if ((rv = pfl_file_read(path, PFL_KEYFILE_MAX, &data, &len)) != PFL_OK)
		return rv;
	rv = pfl_pubkey_parse_line((const char *)data, len, pk);
	if (rv != PFL_OK)
		pfl_log(PFL_LOG_WARN, "%s: not a privfl public key file", path);
	free(data);
	return rv;
}

pfl_err
pfl_identity_parse(const uint8_t *text, size_t len, struct pfl_identity **out)
{
	const char *l, *tok;
	size_t ll, tl;
	uint8_t seed[PFL_SIGN_SEED_BYTES];
	pfl_err rv;

	if (text == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	if (!first_key_line((const char *)text, len, &l, &ll) ||
	    !split_tag(l, ll, SECRET_TAG, &tok, &tl) || tok + tl != l + ll)
		return PFL_ERR_FORMAT;
	if (b64_decode32(tok, tl, seed) != PFL_OK)
		return PFL_ERR_FORMAT;
	rv = pfl_identity_from_seed(seed, out);
	sodium_memzero(seed, sizeof(seed));
	return rv;
}

static pfl_err
path_join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= cap ? PFL_ERR_INVAL : PFL_OK;
}

/* Read a small secret file into sodium_malloc memory after checking it. */
static pfl_err
read_secret_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *b = NULL;
	size_t got = 0;
	pfl_err rv = PFL_OK;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return PFL_ERR_NOTFOUND;
		pfl_log(PFL_LOG_ERROR, "%s: cannot open key file", path);
		return errno == ELOOP ? PFL_ERR_CONFIG : PFL_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		rv = PFL_ERR_IO;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		pfl_log(PFL_LOG_ERROR, "%s: key file is not a regular file",
		        path);
		rv = PFL_ERR_CONFIG;
		goto out_close;
	}
	if ((st.st_mode & 077) != 0) {
		pfl_log(PFL_LOG_ERROR,
		        "%s: key file mode %03o is accessible by group or "
		        "other; run chmod 600",
		        path, (unsigned)(st.st_mode & 0777));
		rv = PFL_ERR_CONFIG;
		goto out_close;
	}
	if (st.st_size > PFL_KEYFILE_MAX) {
		rv = PFL_ERR_TOOBIG;
		goto out_close;
	}
	if ((b = sodium_malloc(PFL_KEYFILE_MAX)) == NULL) {
		rv = PFL_ERR_NOMEM;
		goto out_close;
	}
	for (;;) {
		ssize_t r = read(fd, b + got, PFL_KEYFILE_MAX - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rv = PFL_ERR_IO;
			goto out_free;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == PFL_KEYFILE_MAX) {
			rv = PFL_ERR_TOOBIG;
			goto out_free;
		}
	}
	*buf = b;
	*len = got;
	b = NULL;
out_free:
	sodium_free(b);
out_close:
	close(fd);
	return rv;
}

pfl_err
pfl_identity_load(const char *dir, struct pfl_identity **out)
{
	char path[PATH_MAX];
	uint8_t *text = NULL, pk[PFL_SIGN_PK_BYTES];
	size_t len = 0;
	struct pfl_identity *id = NULL;
	pfl_err rv;

	if (dir == NULL || out == NULL)
		return PFL_ERR_INVAL;
	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	if ((rv = path_join(path, sizeof(path), dir, "identity.key")) != PFL_OK)
		return rv;
	if ((rv = read_secret_file(path, &text, &len)) != PFL_OK)
		return rv;
	rv = pfl_identity_parse(text, len, &id);
	sodium_free(text);
	if (rv != PFL_OK) {
		pfl_log(PFL_LOG_ERROR, "%s: malformed identity key file", path);
		return rv;
	}
	if ((rv = path_join(path, sizeof(path), dir, "identity.pub")) != PFL_OK)
		goto out_free;
	rv = pfl_pubkey_load(path, pk);
	if (rv == PFL_ERR_NOTFOUND) {
		rv = PFL_OK;
	} else if (rv == PFL_OK && !pfl_pubkey_equal(pk, id->pk)) {
		pfl_log(PFL_LOG_ERROR, "%s: does not match identity.key", path);
		rv = PFL_ERR_FORMAT;
	}
	if (rv != PFL_OK)
		goto out_free;
	*out = id;
	return PFL_OK;
out_free:
	pfl_identity_free(id);
	return rv;
}

pfl_err
pfl_identity_save(const struct pfl_identity *cid, const char *dir)
{
	struct pfl_identity *id = (struct pfl_identity *)cid;
	char path[PATH_MAX], publine[PFL_PUBKEY_LINE_MAX];
	char *text = NULL;
	size_t tlen = sizeof(SECRET_TAG) + B64_32_LEN + 2;
	pfl_err rv;

	if (id == NULL || dir == NULL)
		return PFL_ERR_INVAL;
	if (sodium_init() < 0)
		return PFL_ERR_CRYPTO;
	if ((rv = pfl_file_mkdirs(dir, 0700)) != PFL_OK)
		return rv;
	if ((text = sodium_malloc(tlen)) == NULL)
		return PFL_ERR_NOMEM;
	memcpy(text, SECRET_TAG " ", sizeof(SECRET_TAG));
	sk_hold(id);
	/* libsodium's Ed25519 secret key is seed || pk */
	sodium_bin2base64(text + sizeof(SECRET_TAG), B64_32_LEN + 1, id->sk,
	                  PFL_SIGN_SEED_BYTES, sodium_base64_VARIANT_ORIGINAL);
	sk_rele(id);
	text[tlen - 2] = '\n';
	text[tlen - 1] = '\0';
	if ((rv = path_join(path, sizeof(path), dir, "identity.key")) != PFL_OK)
		goto out;
	if ((rv = pfl_file_write_atomic(path, text, tlen - 1, 0600)) != PFL_OK)
		goto out;
	pfl_pubkey_format_line(id->pk, publine);
	if ((rv = path_join(path, sizeof(path), dir, "identity.pub")) != PFL_OK)
		goto out;
	rv = pfl_file_write_atomic(path, publine, strlen(publine), 0644);
out:
	sodium_free(text);
	return rv;
}
