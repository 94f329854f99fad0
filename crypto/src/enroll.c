/*
 * Enrollment certificates (privfl/enroll.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "privfl/enroll.h"
#include "privfl/identity.h"

static const uint8_t tag[16] = {'p', 'r', 'i', 'v', 'f', 'l', '-', 'e',
                                'n', 'r', 'o', 'l', 'l', '-', 'v', '1'};
static const uint8_t fed_pers[16] = "privfl-enr-fed";
static const char file_tag[] = "pfl-enroll-v1 ";

#define TBS_BYTES (16 + 32 + 32 + 8 + 8)

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void
pfl_enroll_fed_hash(const char *fed, uint8_t out[32])
{
	crypto_generichash_blake2b_salt_personal(out, 32, (const uint8_t *)fed,
	                                         fed ? strlen(fed) : 0, NULL, 0,
	                                         NULL, fed_pers);
}

/* what the authority signs, from the certificate's first 80 bytes */
static void
tbs(uint8_t out[TBS_BYTES], const uint8_t cert[PFL_ENROLL_CERT_BYTES])
{
	memcpy(out, tag, 16);
	memcpy(out + 16, cert + 32, 32); /* fed_hash */
	memcpy(out + 48, cert, 32);      /* client_pk */
	memcpy(out + 80, cert + 64, 16); /* validity */
}

pfl_err
pfl_enroll_cert_issue(const struct pfl_identity *authority, const char *fed,
                      const uint8_t client_pk[32], uint64_t not_before,
                      uint64_t not_after, uint8_t cert[PFL_ENROLL_CERT_BYTES])
{
	uint8_t c[PFL_ENROLL_CERT_BYTES], m[TBS_BYTES];
	pfl_err err;

	if (authority == NULL || fed == NULL || client_pk == NULL ||
	    cert == NULL || not_after < not_before)
		return PFL_ERR_INVAL;
	memcpy(c, client_pk, 32);
	pfl_enroll_fed_hash(fed, c + 32);
	put64(c + 64, not_before);
	put64(c + 72, not_after);
	tbs(m, c);
	if ((err = pfl_identity_sign(authority, m, sizeof(m), c + 80)))
		return err;
	memcpy(cert, c, sizeof(c));
	return PFL_OK;
}

pfl_err
pfl_enroll_cert_verify(const uint8_t authority_pk[32],
                       const uint8_t fed_hash[32],
                       const uint8_t cert[PFL_ENROLL_CERT_BYTES], uint64_t now,
                       uint8_t client_pk[32])
{
	uint8_t m[TBS_BYTES];

	if (authority_pk == NULL || fed_hash == NULL || cert == NULL)
		return PFL_ERR_INVAL;
	if (sodium_memcmp(cert + 32, fed_hash, 32) != 0 ||
	    now < get64(cert + 64) || now > get64(cert + 72))
		return PFL_ERR_CRYPTO;
	tbs(m, cert);
	if (pfl_sig_verify(authority_pk, m, sizeof(m), cert + 80) != PFL_OK)
		return PFL_ERR_CRYPTO;
	if (client_pk != NULL)
		memcpy(client_pk, cert, 32);
	return PFL_OK;
}

pfl_err
pfl_enroll_cert_parse(const char *text, size_t len,
                      uint8_t cert[PFL_ENROLL_CERT_BYTES])
{
	size_t tl = sizeof(file_tag) - 1, bl, got = 0;
	const char *end = NULL;
	uint8_t c[PFL_ENROLL_CERT_BYTES];

	if (text == NULL || len < tl || memcmp(text, file_tag, tl) != 0)
		return PFL_ERR_FORMAT;
	for (bl = tl; bl < len && text[bl] != '\n' && text[bl] != '\r'; bl++)
		;
	if (bl < len && text[bl] == '\r' &&
	    (bl + 1 >= len || text[bl + 1] != '\n'))
		return PFL_ERR_FORMAT;
	if (sodium_base642bin(c, sizeof(c), text + tl, bl - tl, NULL, &got,
	                      &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != sizeof(c) || end != text + bl)
		return PFL_ERR_FORMAT;
	memcpy(cert, c, sizeof(c));
	return PFL_OK;
}

pfl_err
pfl_enroll_cert_load(const char *path, uint8_t cert[PFL_ENROLL_CERT_BYTES])
{
	char buf[PFL_ENROLL_FILE_MAX + 1];
	size_t n;
	FILE *f;

	if (path == NULL || cert == NULL)
		return PFL_ERR_INVAL;
	if ((f = fopen(path, "rb")) == NULL)
		return errno == ENOENT ? PFL_ERR_NOTFOUND : PFL_ERR_IO;
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f)) {
		fclose(f);
		return PFL_ERR_IO;
	}
	fclose(f);
	if (n > PFL_ENROLL_FILE_MAX)
		return PFL_ERR_TOOBIG;
	return pfl_enroll_cert_parse(buf, n, cert);
}

pfl_err
pfl_enroll_cert_save(const char *path,
                     const uint8_t cert[PFL_ENROLL_CERT_BYTES])
{
	char b64[sodium_base64_ENCODED_LEN(PFL_ENROLL_CERT_BYTES,
	                                   sodium_base64_VARIANT_ORIGINAL)];
	char tmp[4096];
	FILE *f;
	int fd, ok;

	if (path == NULL || cert == NULL ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return PFL_ERR_INVAL;
	sodium_bin2base64(b64, sizeof(b64), cert, PFL_ENROLL_CERT_BYTES,
	                  sodium_base64_VARIANT_ORIGINAL);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return PFL_ERR_IO;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return PFL_ERR_IO;
	}
	ok = fprintf(f, "%s%s\n", file_tag, b64) > 0;
	ok = fflush(f) == 0 && ok && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return PFL_ERR_IO;
	}
	return PFL_OK;
}
