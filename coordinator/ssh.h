/* ssh.h — the coordinator's SSH layer: reach node hosts, put vmtp-node there, start the agent
 * (ARCHITECTURE.md, control plane; issue 4, SSH).
 *
 * Built on libssh2 in non-blocking mode (STYLE rule 11): a session never blocks the caller's loop.
 * Each session runs one operation at a time (connect, exec, mkdtemp, upload, start, cleanup). A
 * caller starts one with ssh_connect(), ssh_exec(), ... (no I/O happens yet), then drives it
 * either itself — poll ssh_fd() for ssh_events() until ssh_deadline_ns(), call ssh_step() —
 * or with ssh_run(), which drives many sessions at once with poll(). ssh_step() returns -EAGAIN
 * while the operation runs, then 0 or -errno once; ssh_status() and ssh_error() keep that outcome
 * until the next operation starts.
 *
 * Security:
 * - host keys are checked against a known_hosts file (OpenSSH format: plain, hashed `|1|` and
 *   `[host]:port` entries) before any credential is sent; an unknown key is refused unless
 *   SSH_HOSTKEY_ACCEPT_NEW (then it is appended to the file); a changed key is always refused, so is
 *   a key listed under @revoked (for any host); @cert-authority lines are not supported (skipped);
 * - authentication tries the private key file, then the ssh-agent, then the target's password
 *   (password, else keyboard-interactive);
 * - passwords and the bytes given to ssh_start() (CURVE secrets) are never logged, never put on
 *   a command line, and are wiped from memory when no longer needed; ssh_target_masked() renders
 *   a target for logs and JSON with the password as <MASKED> (as VMTP does).
 *
 * Remote commands run through the user's login shell, which must be POSIX (sh, bash, dash, ksh);
 * the host needs mktemp, sha256sum, chmod, mv, readlink, kill, sleep (coreutils or busybox) and /proc.
 * RSA user keys: libssh2 1.10 signs only with ssh-rsa (SHA-1), which OpenSSH >= 8.8 refuses unless
 * the server allows it (PubkeyAcceptedAlgorithms +ssh-rsa): prefer ed25519 keys.
 * Limits: host names are resolved with a blocking getaddrinfo() in ssh_connect() (IP literals
 * never block); ssh-agent requests go to a local socket synchronously.
 */
#ifndef VMTP_SSH_H
#define VMTP_SSH_H

#include <net/if.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSH_DEFAULT_PORT 22
#define SSH_USER_MAX 64      /* longest user name */
#define SSH_HOST_MAX 255     /* longest host name or address (without brackets) */
#define SSH_PASSWORD_MAX 256 /* longest password */
#define SSH_ERROR_MAX 512    /* an error message, with its NUL */
#define SSH_MASKED "<MASKED>"

/* ---- targets ------------------------------------------------------------------------------------ */

/* One host to reach. */
typedef struct {
    char user[SSH_USER_MAX + 1];         /* login name */
    char host[SSH_HOST_MAX + 1];         /* host name, IPv4 or IPv6 address (no brackets) */
    uint16_t port;                       /* TCP port */
    char password[SSH_PASSWORD_MAX + 1]; /* "" = none (secret: never log it) */
    char ifname[IF_NAMESIZE];            /* VMTP's optional interface name ("" = none) */
    bool ipv6;                           /* host is an IPv6 address (rendered in brackets) */
} ssh_target_t;

/* Parses a target. Two forms:
 *   VMTP's   user@host[:password[:ifname]]          (port = default_port)
 *   URI      ssh://user[:password]@host[:port][/ifname]
 * host is a name, an IPv4 address, or an IPv6 address in brackets ([2001:db8::1]; brackets
 * around a name or IPv4 address are allowed too). Passwords cannot contain ':' in VMTP's form,
 * nor ':', '@' or '/' in the URI form. Returns 0 and fills *out, or -EINVAL with a sentence in
 * err (which never contains the password; err may be NULL). *out is untouched on failure. */
int ssh_target_parse(const char *spec, uint16_t default_port, ssh_target_t *out, char *err, size_t err_cap);

/* Renders t for logs and JSON, in the form it was given (VMTP's, or the URI form when the port
 * is not 22), with the password as <MASKED>. Returns buf (always NUL-terminated, truncated). */
const char *ssh_target_masked(const ssh_target_t *t, char *buf, size_t cap);

/* "host:port", with brackets around an IPv6 address: the prefix of every error message. */
const char *ssh_target_hostport(const ssh_target_t *t, char *buf, size_t cap);

/* ---- sessions ----------------------------------------------------------------------------------- */

typedef struct ssh ssh_t;

typedef enum {
    SSH_HOSTKEY_STRICT = 0, /* unknown host key: refuse (default) */
    SSH_HOSTKEY_ACCEPT_NEW, /* unknown host key: accept and append it to known_hosts */
} ssh_hostkey_policy_t;

typedef struct {
    const char *known_hosts;             /* known_hosts file (NULL = ~/.ssh/known_hosts) */
    ssh_hostkey_policy_t hostkey_policy; /* what to do with an unknown host key */
    const char *private_key;             /* private key file, OpenSSH or PEM (NULL = none) */
    const char *passphrase;              /* its passphrase (NULL = none; secret) */
    const char *agent_socket;            /* ssh-agent socket (NULL = $SSH_AUTH_SOCK, "" = no agent) */
    int64_t connect_timeout_ns;          /* TCP connect + SSH handshake + authentication (0 = 10 s) */
    int64_t command_timeout_ns;          /* default bound on exec, mkdtemp, cleanup (0 = 60 s) */
    int64_t upload_timeout_ns;           /* bound on one upload, hash checks included (0 = 300 s) */
    size_t output_max;                   /* bytes kept of a command's stdout, and of its stderr (0 = 64 KiB) */
} ssh_cfg_t;

/* A finished command (ssh_exec, and the checks inside the other operations). */
typedef struct {
    int exit_status;      /* the remote exit status (-1 = none reported, e.g. killed by a signal) */
    char exit_signal[32]; /* the signal that ended it, without "SIG" ("" = none) */
    const char *out;      /* stdout, NUL-terminated (owned by the session) */
    size_t out_len;       /* its length */
    const char *err;      /* stderr, NUL-terminated (owned by the session) */
    size_t err_len;       /* its length */
    bool out_truncated;   /* stdout was longer than output_max: the rest was discarded */
    bool err_truncated;   /* same for stderr */
} ssh_result_t;

/* Makes a session for target t (copied; the password is wiped on destroy). cfg is copied, and
 * the strings it points to too. No I/O: call ssh_connect(). Returns NULL with -errno in *err. */
ssh_t *ssh_new(const ssh_target_t *t, const ssh_cfg_t *cfg, int *err);

/* Closes the session without waiting for the peer (no cleanup command is run: use ssh_cleanup
 * before), frees everything, wipes secrets; NULL-safe, idempotent, nulls *self. Never blocks. */
void ssh_destroy(ssh_t **self);

/* Starts connecting: TCP (non-blocking, every address of the host in turn), SSH handshake, host
 * key check, authentication; all within cfg.connect_timeout_ns. Returns 0 (started), -EBUSY (an
 * operation runs), -EISCONN, or -errno. */
int ssh_connect(ssh_t *s);

/* Starts running cmd (copied) through the remote shell; done with exit status and output in
 * ssh_result(). A non-zero exit status is not an error (the operation's status is 0). timeout_ns
 * bounds it (0 = cfg.command_timeout_ns); when it passes, the status is -ETIMEDOUT and the
 * command is abandoned (the remote process may still run). Returns 0, -EBUSY, -ENOTCONN, -errno. */
int ssh_exec(ssh_t *s, const char *cmd, int64_t timeout_ns);

/* Starts creating a private directory ($TMPDIR or /tmp)/vmtp.XXXXXX, mode 0700, with mktemp -d;
 * once done, ssh_remote_dir() names it and ssh_cleanup() will remove it. */
int ssh_mkdtemp(ssh_t *s);

/* Starts uploading local_path to remote_path (absolute; characters [A-Za-z0-9._/+-] only) with
 * mode 0700: skipped when the remote file already has the same SHA-256 (then only its mode is
 * set); else written by SFTP (SCP when the server has no SFTP) to remote_path.part, moved into
 * place and its hash checked. ssh_upload_skipped() tells which happened. */
int ssh_upload(ssh_t *s, const char *local_path, const char *remote_path);

/* Starts cmd with input (len bytes, copied and wiped once sent; NULL/0 = none) on its standard
 * input, closes the input (EOF), and reads its stdout until a line beginning with ready_prefix
 * appears, within timeout_ns (0 = cfg.command_timeout_ns). Then the operation is done (status
 * 0) and the command keeps running on its open channel: ssh_ready_line() gives the line, and
 * ssh_started_pid() its "pid=N" field. One such command per session (-EBUSY until ssh_cleanup). If the
 * command ends first, the status is -ECHILD with its exit status and stderr in the message. */
int ssh_start(ssh_t *s, const char *cmd, const void *input, size_t len, const char *ready_prefix, int64_t timeout_ns);

/* Starts the cleanup: ends every remote process that runs a program from the ssh_mkdtemp()
 * directory (the started agent; TERM, then KILL after 2 s; processes are found by
 * /proc/PID/exe, so nobody else's process is ever signalled), removes that directory, and closes
 * the started command's channel. Idempotent: once it succeeded, or when there
 * is nothing to clean, it completes at once with status 0. */
int ssh_cleanup(ssh_t *s);

/* Advances the current operation as far as it goes without blocking. Returns -EAGAIN while it
 * runs (wait for ssh_events() on ssh_fd(), or ssh_deadline_ns()), then 0 or -errno exactly once
 * (the operation ended; ssh_status() keeps it); 0 when no operation runs, after reading what the
 * started command printed (its tail is kept) and noticing its end. A loop that keeps a started
 * command must poll ssh_fd() for ssh_events() while idle too and call ssh_step(): an undrained
 * channel's window (2 MiB) would eventually block the command's writes. */
int ssh_step(ssh_t *s);

/* Ends the current operation with -ECANCELED and why (a sentence, not owned, may be NULL). */
void ssh_abort(ssh_t *s, const char *why);

/* Drives sessions s[0..n) (NULL entries skipped) with poll() until none has an operation running,
 * until deadline_mono_ns (CLOCK_MONOTONIC; 0 = none) or until *stop becomes true (stop may be
 * NULL). Operations still running then are aborted. Returns 0 (each session's outcome is in its
 * ssh_status()), -ETIMEDOUT, -EINTR (stop), or -errno from poll(). */
int ssh_run(ssh_t *const *s, size_t n, int64_t deadline_mono_ns, const atomic_bool *stop);

/* The socket (-1 before connecting), and the poll() events the session waits for on it: those of
 * the running operation; when idle, POLLIN while a started command's channel is open, else 0. */
int ssh_fd(const ssh_t *s);
short ssh_events(const ssh_t *s);
/* The monotonic deadline of the current operation (0 = none runs). */
int64_t ssh_deadline_ns(const ssh_t *s);
/* True while an operation runs. */
bool ssh_busy(const ssh_t *s);
/* True once connected and authenticated (and until destroyed or broken). */
bool ssh_connected(const ssh_t *s);

/* The last operation's outcome: -EAGAIN while it runs, 0, or -errno; and its error sentence
 * ("" after success), e.g. "198.18.0.2:22: host key mismatch for 198.18.0.2 (known_hosts
 * /x/y line 3): refusing". */
int ssh_status(const ssh_t *s);
const char *ssh_error(const ssh_t *s);

/* The last command's result (ssh_exec; after ssh_start, what it printed before ready), valid
 * until the next operation starts; NULL if none. */
const ssh_result_t *ssh_result(const ssh_t *s);
/* The directory ssh_mkdtemp() made ("" = none, or removed by ssh_cleanup). */
const char *ssh_remote_dir(const ssh_t *s);
/* After ssh_upload(): true if the remote file already had the same hash. */
bool ssh_upload_skipped(const ssh_t *s);
/* After ssh_upload(): how the file went: "sftp", "scp", or "skipped" ("" = no upload yet). */
const char *ssh_upload_method(const ssh_t *s);
/* After ssh_start(): the ready line, without its newline ("" = none). */
const char *ssh_ready_line(const ssh_t *s);
/* After ssh_start(): the pid from the ready line (0 = none, or ended by ssh_cleanup). */
long ssh_started_pid(const ssh_t *s);
/* True while the started command's channel is open and has not reached EOF (seen by ssh_step). */
bool ssh_started_running(const ssh_t *s);
/* The last 1 KiB the started command printed (stdout and stderr) after its ready line: why it died. */
const char *ssh_started_tail(const ssh_t *s);
/* Which authentication succeeded: "publickey", "agent", "password", "keyboard-interactive" ("" = none). */
const char *ssh_auth_method(const ssh_t *s);
/* The host's key fingerprint, "SHA256:<base64>" as OpenSSH prints it ("" before the handshake). */
const char *ssh_fingerprint(const ssh_t *s);
/* The numeric address the session connected to ("" before connecting): a name may resolve to
 * several, of either family; whoever follows the SSH connection (the agent's control port) must
 * use this one. */
const char *ssh_peer_address(const ssh_t *s);

/* "host:port" of this session (the prefix of its error messages). */
const char *ssh_label(const ssh_t *s);

/* The SHA-256 of a local file as 64 lowercase hex digits. Returns 0 or -errno. */
int ssh_sha256_file(const char *path, char hex[65]);

#endif
