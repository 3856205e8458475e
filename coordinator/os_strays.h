/* os_strays.h — resources of vmtp runs that no ledger lists (a lost ledger, a run on another
 * machine that crashed), found by the run id every name carries ("vmtp-1a2b3c4-..."), and deleted
 * in dependency order. */
#ifndef VMTP_OS_STRAYS_H
#define VMTP_OS_STRAYS_H

#include "os_client.h"
#include "os_cloud.h"

#include <stdbool.h>
#include <stddef.h>

/* A run id as vmtp makes them: 7 lowercase hexadecimal digits. */
bool os_strays_valid_run_id(const char *s);

/* The run id in a vmtp resource name ("vmtp-1a2b3c4-server" -> "1a2b3c4"), copied to out (8 bytes);
 * false when name is not one. */
bool os_strays_run_of(const char *name, char out[8]);

/* Deletes every resource of the project named after run_id (NULL: after any run not in live[]).
 * Returns 0, -EBUSY when some could not be deleted (logged), or -errno with why when the look-up
 * failed. */
int os_strays_cleanup(os_client_t *cl, const char *run_id, const char *const *live, unsigned n_live,
                      os_cleanup_stats_t *st, char *why, size_t cap);

#endif
