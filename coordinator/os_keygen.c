/* os_keygen.c — a per-run ECDSA P-256 SSH key pair (OpenSSL 3). */
#include "os_keygen.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Appends an SSH "string" (4-byte length, bytes). */
static size_t s_put_string(uint8_t *out, size_t o, const void *p, size_t n)
{
    out[o] = (uint8_t)(n >> 24);
    out[o + 1] = (uint8_t)(n >> 16);
    out[o + 2] = (uint8_t)(n >> 8);
    out[o + 3] = (uint8_t)n;
    memcpy(out + o + 4, p, n);
    return o + 4 + n;
}

int os_keygen(const char *priv_path, const char *comment, char *pub, size_t pub_cap, char *why, size_t cap)
{
    int rc = 0;
    FILE *f = NULL;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!key) {
        snprintf(why, cap, "cannot generate an ECDSA key");
        return -EIO;
    }
    uint8_t point[133];
    size_t plen = 0;
    if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &plen) || plen != 65) {
        snprintf(why, cap, "cannot read the public point of the new key");
        rc = -EIO;
        goto out;
    }
    uint8_t blob[200];
    size_t o = s_put_string(blob, 0, "ecdsa-sha2-nistp256", 19);
    o = s_put_string(blob, o, "nistp256", 8);
    o = s_put_string(blob, o, point, plen);
    char b64[300];
    int bl = EVP_EncodeBlock((unsigned char *)b64, blob, (int)o);
    if (bl <= 0 || (size_t)snprintf(pub, pub_cap, "ecdsa-sha2-nistp256 %s %s", b64, comment) >= pub_cap) {
        snprintf(why, cap, "the public key does not fit");
        rc = -ENOSPC;
        goto out;
    }
    int fd = open(priv_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        rc = -errno;
        snprintf(why, cap, "cannot create %s: %s", priv_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    /* "EC PRIVATE KEY": the form libssh2's own PEM reader also knows */
    BIO *bio = BIO_new_fp(f, BIO_NOCLOSE);
    bool ok = bio && PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL);
    BIO_free(bio);
    if (!ok || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        snprintf(why, cap, "cannot write %s", priv_path);
        rc = -EIO;
    }
out:
    if (f && fclose(f) != 0 && !rc)
        rc = -EIO;
    if (rc < 0 && f)
        unlink(priv_path);
    EVP_PKEY_free(key);
    return rc;
}
