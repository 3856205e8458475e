/* os_ledger.h — the record of every cloud resource a run creates: the source of truth for its
 * cleanup, on local disk, so that nothing leaks even after kill -9 or a crash.
 *
 * One file per run, JSON lines appended with O_APPEND and fsync'd one by one:
 *   {"ledger":1,"run_id":"...","auth_url":"...","project_id":"...","region":"...","pid":N,"host":"..."}
 *   {"op":"intent","kind":"server","name":"vmtp-1a2b3c4-server"}       before the create request
 *   {"op":"create","kind":"server","id":"<uuid>","name":"...","parent":""} once the cloud answered
 *   {"op":"delete","kind":"server","id":"<uuid>"}                        once it is gone
 *   {"op":"void","kind":"server","name":"..."}       an intent that created nothing
 *   {"op":"release","kind":"image","id":"<uuid>"}    kept on purpose: no longer the cleanup's
 * An intent without its create (the process died between the request and its answer) is found
 * again by name. Cleanup goes through the live entries in reverse creation order. A torn last
 * line (a crash in the middle of a write) is ignored.
 */
#ifndef VMTP_OS_LEDGER_H
#define VMTP_OS_LEDGER_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    OS_RES_IMAGE,
    OS_RES_FLAVOR,
    OS_RES_KEYPAIR,
    OS_RES_SECGROUP,
    OS_RES_NETWORK,
    OS_RES_SUBNET,
    OS_RES_ROUTER,
    OS_RES_ROUTER_GW,  /* an external gateway set on a router (id = router id) */
    OS_RES_ROUTER_IF,  /* a router interface (id = subnet id, parent = router id) */
    OS_RES_SERVER,
    OS_RES_FIP,
    OS_RES_N
} os_res_kind_t;

typedef struct {
    os_res_kind_t kind;
    char id[128];     /* the cloud's id (a key pair's name), "" for an intent not yet answered */
    char name[256];   /* the name given */
    char parent[128]; /* a router interface's router */
    bool deleted;     /* a delete record followed */
} os_ledger_entry_t;

typedef struct os_ledger os_ledger_t;

/* The ledgers' folder: $VMTP_STATE_DIR, else $XDG_STATE_HOME/vmtp, else ~/.local/state/vmtp. */
int os_ledger_dir(char *out, size_t cap);

/* Creates DIR/ledger-RUN.jsonl (mode 0600, the folder 0700) with its header, fsync'd with its
 * folder. Returns NULL with *err and why. */
os_ledger_t *os_ledger_create(const char *dir, const char *run_id, const char *auth_url, const char *project_id,
                              const char *region, int *err, char *why, size_t cap);

/* Reads a ledger (for `vmtp cleanup`); appends go to it from then on. Returns NULL with *err
 * and why ("FILE:LINE: ..."). */
os_ledger_t *os_ledger_open(const char *path, int *err, char *why, size_t cap);

/* Parses ledger text into l's entries and header (l from os_ledger_new_mem). Returns 0 or
 * -EINVAL with "NAME:LINE: ..." in why. Fuzzed. */
os_ledger_t *os_ledger_new_mem(void);
int os_ledger_parse(os_ledger_t *l, const char *name, const char *text, size_t len, char *why, size_t cap);

void os_ledger_close(os_ledger_t **self);

/* Appends a record and fsyncs it. Returns 0 or -errno (then the run must stop creating). */
int os_ledger_intent(os_ledger_t *l, os_res_kind_t kind, const char *name);
int os_ledger_created(os_ledger_t *l, os_res_kind_t kind, const char *id, const char *name, const char *parent);
int os_ledger_deleted(os_ledger_t *l, os_res_kind_t kind, const char *id);
/* A resource the run keeps on purpose from now on (an uploaded image for later runs): no longer
 * the cleanup's. */
int os_ledger_release(os_ledger_t *l, os_res_kind_t kind, const char *id);
/* An intent that created nothing (looked up by name: not there). */
int os_ledger_void(os_ledger_t *l, os_res_kind_t kind, const char *name);

/* Entries in creation order (intents included: id ""). */
unsigned os_ledger_count(const os_ledger_t *l);
const os_ledger_entry_t *os_ledger_entry(const os_ledger_t *l, unsigned i);
/* Live entries: created (or intended) and not deleted. */
unsigned os_ledger_live(const os_ledger_t *l);

const char *os_ledger_path(const os_ledger_t *l);
const char *os_ledger_run_id(const os_ledger_t *l);
const char *os_ledger_auth_url(const os_ledger_t *l);
const char *os_ledger_project_id(const os_ledger_t *l);
long os_ledger_pid(const os_ledger_t *l);
const char *os_ledger_host(const os_ledger_t *l);

/* "server", "router_interface", ... and back (-1 when unknown). */
const char *os_res_kind_name(os_res_kind_t k);
int os_res_kind_parse(const char *s);

#endif
