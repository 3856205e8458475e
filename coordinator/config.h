/* config.h — the configuration of a `vmtp` run: built-in defaults (VMTP's cfg.default.yaml keys and
 * meanings, plus vmtp's own, all in config.def), YAML files merged over them, then the command line.
 *
 * A YAML file is one mapping of keys to scalars or flow/block lists (and `flavor`, a mapping). Every problem is an
 * error that names the file, the line and the key, and says what is allowed: an unknown key (with the closest known
 * one), a value of the wrong kind or out of range, a list too long, a duplicate key. VMTP keys for features vmtp does
 * not have (MongoDB) are accepted with a warning, so a VMTP config file loads unchanged.
 */
#ifndef VMTP_CONFIG_H
#define VMTP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.def"

#define CONFIG_LIST_MAX 16

/* A flavor's specification (key `flavor`, VMTP 2's shape): what `vmtp` creates when flavor_type is not
 * in the cloud. Extra specs are owned strings. */
typedef struct {
    uint64_t vcpus, ram, disk, ephemeral, swap; /* ram and swap in MiB, disks in GB (Nova's units) */
    unsigned n_specs;
    char *spec_key[CONFIG_LIST_MAX], *spec_val[CONFIG_LIST_MAX];
} config_flavor_t;

#define CONFIG_STORE_STR(name, a, b) char *name;
#define CONFIG_STORE_UINT(name, a, b) uint64_t name;
#define CONFIG_STORE_BOOL(name, a, b) bool name;
#define CONFIG_STORE_UINTS(name, a, b)                                                                                 \
    struct {                                                                                                           \
        unsigned n;                                                                                                    \
        uint64_t v[CONFIG_LIST_MAX];                                                                                   \
    } name;
#define CONFIG_STORE_STRS(name, a, b)                                                                                  \
    struct {                                                                                                           \
        unsigned n;                                                                                                    \
        char *v[CONFIG_LIST_MAX];                                                                                      \
    } name;
#define CONFIG_STORE_RANGE(name, a, b)                                                                                 \
    struct {                                                                                                           \
        double lo, hi;                                                                                                 \
    } name;
#define CONFIG_STORE_ENUM(name, a, b) char name[32];
#define CONFIG_STORE_IGNORED(name, a, b) bool name;
#define CONFIG_STORE_FLAVOR(name, a, b) config_flavor_t name;
#define CONFIG_FIELD(kind, name, a, b, def, doc) CONFIG_STORE_##kind(name, a, b)

/* Every key; strings are owned (config_fini frees). */
typedef struct {
    CONFIG_KEYS(CONFIG_FIELD)
} config_t;
#undef CONFIG_FIELD

/* Fills *c with the built-in defaults. Returns 0 or -ENOMEM. */
int config_defaults(config_t *c);
/* Frees what *c owns; idempotent. */
void config_fini(config_t *c);

/* Merges the YAML file at path over *c. Returns 0, or -errno / -EINVAL with "FILE:LINE: ..." in why;
 * *c may hold a partial merge after an error (callers exit). Warnings (ignored VMTP keys) go to the log. */
int config_load_file(config_t *c, const char *path, char *why, size_t cap);
/* The same for YAML text in memory (name labels it in messages). */
int config_load_string(config_t *c, const char *name, const char *text, size_t len, char *why, size_t cap);

/* Sets one key from a string as the command line spells it ("65536,8192" for lists, "2,5" for a
 * range, "vcpus=2,ram=4096,extra_specs.hw:cpu_policy=dedicated" for a flavor, fields not named kept). Returns 0,
 * -ENOENT (unknown key) or -EINVAL with the reason in why. */
int config_set(config_t *c, const char *key, const char *value, char *why, size_t cap);

/* Writes *c as YAML that config_load_* reads back, each key preceded by its description. */
void config_write_yaml(const config_t *c, FILE *out);

/* Number of keys, and the i-th key's name (for help and docs). */
unsigned config_key_count(void);
const char *config_key_name(unsigned i);
const char *config_key_doc(unsigned i);

#endif
