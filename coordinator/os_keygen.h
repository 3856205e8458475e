/* os_keygen.h — the per-run SSH key pair of an OpenStack run (when no public_key_file is
 * configured): ECDSA P-256, the private key in PEM for libssh2, the public key in OpenSSH's form
 * for Nova's key pair. */
#ifndef VMTP_OS_KEYGEN_H
#define VMTP_OS_KEYGEN_H

#include <stddef.h>

/* Writes a new private key to priv_path (created 0600, must not exist) and its public key
 * ("ecdsa-sha2-nistp256 AAAA... comment") to pub. Returns 0 or -errno with why. */
int os_keygen(const char *priv_path, const char *comment, char *pub, size_t pub_cap, char *why, size_t cap);

#endif
