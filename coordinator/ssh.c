/* ssh.c — the coordinator's SSH layer (libssh2, non-blocking); see ssh.h. */
#include "ssh.h"

#include "vmtp/clock.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_CONNECT_TIMEOUT_NS (10 * VMTP_NS_PER_S)
#define S_COMMAND_TIMEOUT_NS (60 * VMTP_NS_PER_S)
#define S_UPLOAD_TIMEOUT_NS (300 * VMTP_NS_PER_S)
#define S_OUTPUT_MAX (64 * 1024)
#define S_UPLOAD_MAX ((size_t)1 << 30) /* largest file ssh_upload() reads into memory */
#define S_UPLOAD_CHUNK (256 * 1024)    /* bytes handed to one SFTP/SCP write */
#define S_READY_MAX 256                /* longest ready line kept */
#define S_PATH_MAX 256                 /* longest remote path */
#define S_TAIL_MAX 1024                /* bytes kept of what the started command prints after ready */
#define S_ZOMBIES 8                    /* abandoned channels freed later */
#define S_POLL_SLICE_MS 100            /* ssh_run re-checks its stop flag this often */

typedef enum { S_OP_NONE, S_OP_CONNECT, S_OP_EXEC, S_OP_MKDTEMP, S_OP_UPLOAD, S_OP_START, S_OP_CLEANUP } s_op_t;

/* Connect phases. */
enum { P_RESOLVE, P_TCP, P_HANDSHAKE, P_HOSTKEY, P_AUTHLIST, P_KEY, P_AGENT, P_PASSWORD, P_KBDINT };

/* Command phases (s_cmd_step). */
typedef enum { C_OPEN, C_EXEC, C_WRITE, C_EOF, C_READ, C_CLOSE, C_WAIT, C_FREE, C_DONE } s_cphase_t;

/* Upload phases. */
enum {
    U_CHECK,
    U_SFTP_INIT,
    U_SFTP_OPEN,
    U_SFTP_WRITE,
    U_SFTP_CLOSE,
    U_SFTP_END,
    U_SFTP_ABORT,
    U_SCP_OPEN,
    U_SCP_WRITE,
    U_SCP_EOF,
    U_SCP_WAITEOF,
    U_SCP_FREE,
    U_FINAL
};

/* Cleanup phases. */
enum { K_CMD, K_BG_CLOSE, K_BG_FREE };

/* Bounded output of one stream. */
typedef struct {
    char *p;    /* NUL-terminated bytes (NULL = none yet) */
    size_t len; /* bytes kept */
    bool trunc; /* more arrived than the bound */
} s_buf_t;

/* One remote command on its own channel. */
typedef struct {
    LIBSSH2_CHANNEL *ch;   /* its channel (NULL before C_EXEC) */
    s_cphase_t phase;      /* where it is */
    char *line;            /* the command (owned) */
    uint8_t *in;           /* bytes for its stdin (owned, wiped once sent; NULL = none) */
    size_t in_len, in_off; /* their length, bytes sent */
    const char *ready;     /* stop reading at a stdout line with this prefix (not owned; NULL = read to EOF) */
    bool ready_found;      /* that line arrived */
    bool eof_out, eof_err; /* each stream returned 0 after EOF */
} s_cmd_t;

struct ssh {
    ssh_target_t t;                        /* where to (password wiped on destroy) */
    ssh_cfg_t cfg;                         /* bounds (string members point to the copies below) */
    char *known_hosts;                     /* owned copy */
    char *private_key;                     /* owned copy (NULL = none) */
    char *passphrase;                      /* owned copy, wiped on destroy */
    char *agent_socket;                    /* owned copy (NULL = none) */
    char label[SSH_HOST_MAX + 10];         /* "host:port" */
    int fd;                                /* the TCP socket (-1 = none) */
    LIBSSH2_SESSION *ses;                  /* the SSH session (NULL before the handshake starts) */
    bool connected;                        /* authenticated */
    bool broken;                           /* an operation died mid-protocol: unusable */
    s_op_t op;                             /* the running operation */
    int phase;                             /* its phase */
    int64_t deadline;                      /* its monotonic deadline */
    int status;                            /* last outcome (-EAGAIN while running) */
    char error[SSH_ERROR_MAX];             /* why it failed */
    struct addrinfo *ai, *ai_cur;          /* resolved addresses, the one being tried */
    char addr[INET6_ADDRSTRLEN];           /* the address being tried, printable */
    char methods[128];                     /* authentication methods the server offers */
    char auth_notes[320];                  /* why each method failed */
    const char *auth_method;               /* the one that worked (static string) */
    LIBSSH2_AGENT *agent;                  /* ssh-agent connection (NULL = none) */
    struct libssh2_agent_publickey *ident; /* identity being tried (owned by agent) */
    unsigned agent_tried;                  /* identities refused */
    char fingerprint[64];                  /* "SHA256:..." */
    s_cmd_t cmd;                           /* the command of the current operation */
    s_buf_t out, err;                      /* its output */
    ssh_result_t res;                      /* its result, as published */
    bool has_res;                          /* res is valid */
    char *up_remote;                       /* upload: destination (owned) */
    uint8_t *up_data;                      /* upload: the file (owned) */
    size_t up_len, up_off;                 /* its size, bytes written */
    char up_hash[65];                      /* its SHA-256 */
    int up_err;                            /* upload: the failure being reported after SFTP closes */
    const char *up_method;                 /* "sftp", "scp", "skipped", "" */
    LIBSSH2_SFTP *sftp;                    /* upload: SFTP session */
    LIBSSH2_SFTP_HANDLE *sh;               /* upload: the remote file */
    LIBSSH2_CHANNEL *scp;                  /* upload: SCP channel */
    LIBSSH2_CHANNEL *bg;                   /* the started command's channel (NULL = none) */
    bool bg_eof;                           /* it reached EOF */
    char ready_line[S_READY_MAX];          /* its ready line */
    long bg_pid;                           /* pid=N from the ready line */
    char bg_tail[S_TAIL_MAX + 1];          /* the last bytes it printed since */
    size_t bg_tail_len;                    /* their length */
    char rdir[S_PATH_MAX];                 /* the private directory ("" = none) */
    LIBSSH2_CHANNEL *zombies[S_ZOMBIES];   /* abandoned channels, freed when idle */
    unsigned n_zombies;
};

/* ---- small helpers ------------------------------------------------------------------------------ */

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static int s_init_rc;

static void s_global_init(void) { s_init_rc = libssh2_init(0); }

static void s_wipe(void *p, size_t n)
{
    if (p)
        explicit_bzero(p, n);
}

static char *s_strdup(const char *src, int *err)
{
    if (!src)
        return NULL;
    char *d = strdup(src);
    if (!d)
        *err = -ENOMEM;
    return d;
}

/* Writes "label: message" into s->error (the first failure of an operation wins) and returns err. */
__attribute__((format(printf, 3, 4))) static int s_fail(ssh_t *s, int err, const char *fmt, ...)
{
    if (!s->error[0]) {
        int n = snprintf(s->error, sizeof s->error, "%s: ", s->label);
        va_list ap;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof s->error)
            vsnprintf(s->error + n, sizeof s->error - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* libssh2's own description of its last error. */
static const char *s_lerr(ssh_t *s)
{
    char *msg = NULL;
    if (!s->ses)
        return "no session";
    libssh2_session_last_error(s->ses, &msg, NULL, 0);
    return msg && *msg ? msg : "unknown libssh2 error";
}

/* Translates a libssh2 error code into -errno, once, here (STYLE rule 4). */
static int s_errno(int rc)
{
    switch (rc) {
    case LIBSSH2_ERROR_EAGAIN: return -EAGAIN;
    case LIBSSH2_ERROR_ALLOC: return -ENOMEM;
    case LIBSSH2_ERROR_SOCKET_SEND:
    case LIBSSH2_ERROR_SOCKET_RECV:
    case LIBSSH2_ERROR_SOCKET_DISCONNECT: return -ECONNRESET;
    case LIBSSH2_ERROR_TIMEOUT:
    case LIBSSH2_ERROR_SOCKET_TIMEOUT: return -ETIMEDOUT;
    case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
    case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED: return -EACCES;
    case LIBSSH2_ERROR_FILE: return -ENOENT;
    case LIBSSH2_ERROR_BANNER_RECV:
    case LIBSSH2_ERROR_BANNER_SEND:
    case LIBSSH2_ERROR_KEX_FAILURE:
    case LIBSSH2_ERROR_HOSTKEY_INIT:
    case LIBSSH2_ERROR_HOSTKEY_SIGN:
    case LIBSSH2_ERROR_DECRYPT:
    case LIBSSH2_ERROR_PROTO:
    case LIBSSH2_ERROR_INVALID_MAC: return -EPROTO;
    default: return -EIO;
    }
}

/* The last libssh2 error code of the session (EAGAIN when a NULL return meant "try again"). */
static int s_last(ssh_t *s) { return s->ses ? libssh2_session_last_errno(s->ses) : LIBSSH2_ERROR_SOCKET_NONE; }

/* Quotes src for a POSIX shell ('...' with ' as '\''). Returns 0 or -ENAMETOOLONG. */
static int s_shquote(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    if (cap < 3)
        return -ENAMETOOLONG;
    dst[o++] = '\'';
    for (const char *p = src; *p; p++) {
        const char *piece = *p == '\'' ? "'\\''" : NULL;
        size_t n = piece ? 4 : 1;
        if (o + n + 2 > cap)
            return -ENAMETOOLONG;
        if (piece)
            memcpy(dst + o, piece, n);
        else
            dst[o] = *p;
        o += n;
    }
    dst[o++] = '\'';
    dst[o] = 0;
    return 0;
}

static double s_secs(int64_t ns) { return (double)ns / (double)VMTP_NS_PER_S; }

/* A remote path we are willing to put in a command: absolute, [A-Za-z0-9._/+-], no "..". */
static bool s_safe_path(const char *p)
{
    size_t n = strlen(p);
    if (n < 2 || n >= S_PATH_MAX - 8 || p[0] != '/' || strstr(p, ".."))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && !strchr("._/+-", p[i]))
            return false;
    return true;
}

/* ---- targets ------------------------------------------------------------------------------------ */

static bool s_valid_user(const char *u, size_t n)
{
    if (n < 1 || n > SSH_USER_MAX || u[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)u[i]) && !strchr("._-$", u[i]))
            return false;
    return true;
}

static bool s_valid_hostname(const char *h)
{
    size_t n = strlen(h), label = 0;
    if (n < 1 || n > 253 || h[0] == '-' || h[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (isalnum((unsigned char)h[i]) || h[i] == '-' || h[i] == '_') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return true;
}

static bool s_valid_ifname(const char *f, size_t n)
{
    if (n < 1 || n >= IF_NAMESIZE)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)f[i]) && !strchr("_.-", f[i]))
            return false;
    return true;
}

/* Parses a host (with or without brackets) from [h, h+n) into t->host / t->ipv6. */
static int s_parse_host(const char *h, size_t n, bool bracketed, ssh_target_t *t, char *err, size_t cap)
{
    if (n < 1 || n > SSH_HOST_MAX) {
        snprintf(err, cap, "bad target: %s host", n ? "too long a" : "missing");
        return -EINVAL;
    }
    memcpy(t->host, h, n);
    t->host[n] = 0;
    struct in6_addr a6;
    struct in_addr a4;
    char plain[SSH_HOST_MAX + 1];
    snprintf(plain, sizeof plain, "%s", t->host);
    char *zone = strchr(plain, '%'); /* fe80::1%eth0 */
    if (zone && bracketed)
        *zone = 0;
    if (strchr(t->host, ':')) {
        if (!bracketed) {
            snprintf(err, cap, "bad target: IPv6 address '%s' must be in brackets ([%s])", t->host, t->host);
            return -EINVAL;
        }
        if (inet_pton(AF_INET6, plain, &a6) != 1 || (zone && !s_valid_ifname(zone + 1, strlen(zone + 1)))) {
            snprintf(err, cap, "bad target: '%s' is not an IPv6 address", t->host);
            return -EINVAL;
        }
        t->ipv6 = true;
        return 0;
    }
    if (inet_pton(AF_INET, t->host, &a4) == 1)
        return 0;
    bool numeric = true;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)h[i]) && h[i] != '.')
            numeric = false;
    if (numeric || !s_valid_hostname(t->host)) {
        snprintf(err, cap, "bad target: '%s' is neither an IPv4 address nor a host name", t->host);
        return -EINVAL;
    }
    return 0;
}

/* Splits host text at p: "[...]" or up to the first of stop; sets *end past it. */
static int s_take_host(const char *p, const char *stop, ssh_target_t *t, const char **end, char *err, size_t cap)
{
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close) {
            snprintf(err, cap, "bad target: '[' without ']'");
            return -EINVAL;
        }
        *end = close + 1;
        return s_parse_host(p + 1, (size_t)(close - p - 1), true, t, err, cap);
    }
    size_t n = strcspn(p, stop);
    *end = p + n;
    return s_parse_host(p, n, false, t, err, cap);
}

static int s_parse_uri(const char *spec, ssh_target_t *t, char *err, size_t cap)
{
    const char *p = spec + 6, *at = strchr(p, '@');
    if (!at) {
        snprintf(err, cap, "bad target: expected ssh://user[:password]@host[:port][/ifname]");
        return -EINVAL;
    }
    const char *colon = memchr(p, ':', (size_t)(at - p));
    size_t ulen = (size_t)((colon ? colon : at) - p);
    if (!s_valid_user(p, ulen)) {
        snprintf(err, cap, "bad target: missing or bad user name (letters, digits, '.', '_', '-')");
        return -EINVAL;
    }
    memcpy(t->user, p, ulen);
    t->user[ulen] = 0;
    if (colon) {
        size_t plen = (size_t)(at - colon - 1);
        if (plen > SSH_PASSWORD_MAX || memchr(colon + 1, '/', plen)) {
            snprintf(err, cap, "bad target: password too long or containing '/'");
            return -EINVAL;
        }
        memcpy(t->password, colon + 1, plen);
        t->password[plen] = 0;
    }
    const char *q;
    int rc = s_take_host(at + 1, ":/", t, &q, err, cap);
    if (rc < 0)
        return rc;
    if (*q == ':') {
        char *e = NULL;
        errno = 0;
        unsigned long port = strtoul(q + 1, &e, 10);
        if (errno || e == q + 1 || port < 1 || port > 65535 || (*e && *e != '/')) {
            snprintf(err, cap, "bad target: port must be 1-65535");
            return -EINVAL;
        }
        t->port = (uint16_t)port;
        q = e;
    }
    if (*q == '/') {
        if (!s_valid_ifname(q + 1, strlen(q + 1))) {
            snprintf(err, cap, "bad target: bad interface name (at most %d of [A-Za-z0-9_.-])", IF_NAMESIZE - 1);
            return -EINVAL;
        }
        snprintf(t->ifname, sizeof t->ifname, "%s", q + 1);
    } else if (*q) {
        snprintf(err, cap, "bad target: unexpected text after the host");
        return -EINVAL;
    }
    return 0;
}

static int s_parse_vmtp(const char *spec, ssh_target_t *t, char *err, size_t cap)
{
    const char *at = strchr(spec, '@');
    if (!at) {
        snprintf(err, cap, "bad target: expected user@host[:password[:ifname]]");
        return -EINVAL;
    }
    if (!s_valid_user(spec, (size_t)(at - spec))) {
        snprintf(err, cap, "bad target: missing or bad user name (letters, digits, '.', '_', '-')");
        return -EINVAL;
    }
    memcpy(t->user, spec, (size_t)(at - spec));
    t->user[at - spec] = 0;
    struct in6_addr a6;
    if (at[1] != '[' && inet_pton(AF_INET6, at + 1, &a6) == 1) {
        snprintf(err, cap, "bad target: an IPv6 address must be in brackets (user@[%.64s])", at + 1);
        return -EINVAL;
    }
    unsigned colons = 0;
    for (const char *p = at[1] == '[' ? strchr(at, ']') : at; p && *p; p++)
        colons += *p == ':';
    if (colons > 2) {
        snprintf(err, cap,
                 "bad target: too many ':' fields (user@host[:password[:ifname]]; a password cannot contain "
                 "':', and an IPv6 address goes in brackets)");
        return -EINVAL;
    }
    const char *q;
    int rc = s_take_host(at + 1, ":", t, &q, err, cap);
    if (rc < 0)
        return rc;
    if (!*q)
        return 0;
    if (*q != ':') {
        snprintf(err, cap, "bad target: unexpected text after ']'");
        return -EINVAL;
    }
    const char *pw = q + 1, *c2 = strchr(pw, ':');
    size_t plen = c2 ? (size_t)(c2 - pw) : strlen(pw);
    if (plen > SSH_PASSWORD_MAX) {
        snprintf(err, cap, "bad target: password longer than %d characters", SSH_PASSWORD_MAX);
        return -EINVAL;
    }
    memcpy(t->password, pw, plen);
    t->password[plen] = 0;
    if (c2) {
        if (!s_valid_ifname(c2 + 1, strlen(c2 + 1))) {
            snprintf(err, cap, "bad target: bad interface name (at most %d of [A-Za-z0-9_.-])", IF_NAMESIZE - 1);
            return -EINVAL;
        }
        snprintf(t->ifname, sizeof t->ifname, "%s", c2 + 1);
    }
    return 0;
}

int ssh_target_parse(const char *spec, uint16_t default_port, ssh_target_t *out, char *err, size_t err_cap)
{
    char dummy[8];
    if (!err || !err_cap) {
        err = dummy;
        err_cap = sizeof dummy;
    }
    err[0] = 0;
    if (!spec || !*spec) {
        snprintf(err, err_cap, "bad target: empty");
        return -EINVAL;
    }
    ssh_target_t *t = calloc(1, sizeof *t); /* on the heap: wiped and freed whatever happens */
    if (!t)
        return -ENOMEM;
    t->port = default_port ? default_port : SSH_DEFAULT_PORT;
    int rc = strncmp(spec, "ssh://", 6) ? s_parse_vmtp(spec, t, err, err_cap) : s_parse_uri(spec, t, err, err_cap);
    if (rc == 0)
        *out = *t;
    s_wipe(t, sizeof *t);
    free(t);
    return rc;
}

const char *ssh_target_hostport(const ssh_target_t *t, char *buf, size_t cap)
{
    snprintf(buf, cap, t->ipv6 ? "[%s]:%u" : "%s:%u", t->host, (unsigned)t->port);
    return buf;
}

const char *ssh_target_masked(const ssh_target_t *t, char *buf, size_t cap)
{
    const char *lb = t->ipv6 ? "[" : "", *rb = t->ipv6 ? "]" : "";
    bool pw = t->password[0] != 0;
    if (t->port == SSH_DEFAULT_PORT)
        snprintf(buf, cap, "%s@%s%s%s%s%s%s%s", t->user, lb, t->host, rb, pw || t->ifname[0] ? ":" : "",
                 pw ? SSH_MASKED : "", t->ifname[0] ? ":" : "", t->ifname);
    else
        snprintf(buf, cap, "ssh://%s%s%s@%s%s%s:%u%s%s", t->user, pw ? ":" : "", pw ? SSH_MASKED : "", lb, t->host, rb,
                 (unsigned)t->port, t->ifname[0] ? "/" : "", t->ifname);
    return buf;
}

/* ---- lifecycle ---------------------------------------------------------------------------------- */

static LIBSSH2_SEND_FUNC(s_send)
{
    (void)abstract;
    ssize_t r = send(socket, buffer, length, flags | MSG_NOSIGNAL); /* a dead peer must not raise SIGPIPE */
    return r < 0 ? -errno : r;
}

ssh_t *ssh_new(const ssh_target_t *t, const ssh_cfg_t *cfg, int *err)
{
    int e = 0;
    if (!err)
        err = &e;
    pthread_once(&s_once, s_global_init);
    if (s_init_rc != 0) {
        *err = -EIO;
        return NULL;
    }
    ssh_t *s = calloc(1, sizeof *s);
    if (!s) {
        *err = -ENOMEM;
        return NULL;
    }
    s->t = *t;
    s->fd = -1;
    s->up_method = "";
    s->auth_method = "";
    ssh_cfg_t c = cfg ? *cfg : (ssh_cfg_t){0};
    int rc = 0;
    if (c.known_hosts) {
        s->known_hosts = s_strdup(c.known_hosts, &rc);
    } else {
        const char *home = getenv("HOME");
        char path[4096];
        snprintf(path, sizeof path, "%s/.ssh/known_hosts", home && *home ? home : "/root");
        s->known_hosts = s_strdup(path, &rc);
    }
    s->private_key = s_strdup(c.private_key, &rc);
    s->passphrase = s_strdup(c.passphrase, &rc);
    const char *sock = c.agent_socket ? c.agent_socket : getenv("SSH_AUTH_SOCK");
    if (sock && *sock)
        s->agent_socket = s_strdup(sock, &rc);
    if (rc < 0) {
        ssh_destroy(&s);
        *err = rc;
        return NULL;
    }
    c.known_hosts = s->known_hosts;
    c.private_key = s->private_key;
    c.passphrase = s->passphrase;
    c.agent_socket = s->agent_socket;
    if (c.connect_timeout_ns <= 0)
        c.connect_timeout_ns = S_CONNECT_TIMEOUT_NS;
    if (c.command_timeout_ns <= 0)
        c.command_timeout_ns = S_COMMAND_TIMEOUT_NS;
    if (c.upload_timeout_ns <= 0)
        c.upload_timeout_ns = S_UPLOAD_TIMEOUT_NS;
    if (c.output_max == 0)
        c.output_max = S_OUTPUT_MAX;
    s->cfg = c;
    ssh_target_hostport(&s->t, s->label, sizeof s->label);
    return s;
}

static void s_cmd_reset(s_cmd_t *c)
{
    free(c->line);
    if (c->in) {
        s_wipe(c->in, c->in_len);
        free(c->in);
    }
    memset(c, 0, sizeof *c);
}

/* Parks a channel whose operation was abandoned; it is freed once the session is idle. */
static void s_zombie(ssh_t *s, LIBSSH2_CHANNEL *ch)
{
    if (!ch)
        return;
    if (s->n_zombies < S_ZOMBIES)
        s->zombies[s->n_zombies++] = ch;
    else
        s->broken = true; /* too many half-dead channels: stop using this session */
}

/* Frees what is left of an operation after it ended (well or not). */
static void s_op_end(ssh_t *s, int status)
{
    if (s->cmd.ch && !(s->op == S_OP_START && status == 0))
        s_zombie(s, s->cmd.ch);
    s->cmd.ch = NULL;
    s_cmd_reset(&s->cmd);
    if (s->up_data) {
        free(s->up_data);
        s->up_data = NULL;
    }
    free(s->up_remote);
    s->up_remote = NULL;
    s_zombie(s, s->scp); /* an SCP channel is a channel like any other */
    s->scp = NULL;
    if (s->sh || s->sftp)
        s->broken = true; /* an upload stopped inside an SFTP exchange: the session cannot be trusted any more */
    if (s->op == S_OP_CONNECT) {
        if (s->ai) {
            freeaddrinfo(s->ai);
            s->ai = s->ai_cur = NULL;
        }
        if (s->agent) {
            libssh2_agent_disconnect(s->agent);
            libssh2_agent_free(s->agent);
            s->agent = NULL;
            s->ident = NULL;
        }
        if (status < 0)
            s->broken = true;
    }
    s->status = status;
    s->op = S_OP_NONE;
    s->phase = 0;
    s->deadline = 0;
}

void ssh_destroy(ssh_t **self)
{
    if (!self || !*self)
        return;
    ssh_t *s = *self;
    *self = NULL;
    if (s->ses) {
        if (s->connected)
            libssh2_session_disconnect(s->ses, "vmtp: done"); /* one try; never waits */
        if (s->fd >= 0)
            shutdown(s->fd, SHUT_RDWR); /* from here on every libssh2 send fails at once: nothing waits */
        if (s->sh)
            libssh2_sftp_close_handle(s->sh);
        if (s->sftp)
            libssh2_sftp_shutdown(s->sftp);
        if (s->agent) {
            libssh2_agent_disconnect(s->agent);
            libssh2_agent_free(s->agent);
        }
        for (int i = 0; i < 16 && libssh2_session_free(s->ses) == LIBSSH2_ERROR_EAGAIN; i++)
            ;
    }
    if (s->fd >= 0)
        close(s->fd);
    if (s->ai)
        freeaddrinfo(s->ai);
    s_cmd_reset(&s->cmd);
    free(s->out.p);
    free(s->err.p);
    free(s->up_data);
    free(s->up_remote);
    free(s->known_hosts);
    free(s->private_key);
    if (s->passphrase) {
        s_wipe(s->passphrase, strlen(s->passphrase));
        free(s->passphrase);
    }
    free(s->agent_socket);
    s_wipe(&s->t, sizeof s->t);
    free(s);
}

/* Common start of every operation. */
static int s_op_begin(ssh_t *s, s_op_t op, int64_t timeout_ns)
{
    if (s->op != S_OP_NONE)
        return -EBUSY;
    if (op != S_OP_CONNECT && (!s->connected || s->broken))
        return -ENOTCONN;
    s->op = op;
    s->phase = 0;
    s->status = -EAGAIN;
    s->error[0] = 0;
    s->deadline = clock_mono_ns() + timeout_ns;
    return 0;
}

/* ---- connect ------------------------------------------------------------------------------------ */

int ssh_connect(ssh_t *s)
{
    if (s->connected)
        return -EISCONN;
    if (s->ses || s->broken)
        return -ENOTCONN; /* one connect per session: make a new one to retry */
    int rc = s_op_begin(s, S_OP_CONNECT, s->cfg.connect_timeout_ns);
    if (rc == 0)
        s->phase = P_RESOLVE;
    return rc;
}

static int s_resolve(ssh_t *s)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)s->t.port);
    int g = getaddrinfo(s->t.host, port, &hints, &s->ai);
    if (g != 0)
        return s_fail(s, g == EAI_NONAME || g == EAI_NODATA ? -EHOSTUNREACH : -EIO, "cannot resolve %s: %s", s->t.host,
                      gai_strerror(g));
    s->ai_cur = s->ai;
    return 0;
}

/* Starts a non-blocking connect to s->ai_cur. Returns 0 (in progress or done) or -errno. */
static int s_tcp_start(ssh_t *s)
{
    struct addrinfo *a = s->ai_cur;
    const void *ip = a->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr
                                              : (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr;
    inet_ntop(a->ai_family, ip, s->addr, sizeof s->addr);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        return -errno;
    if (connect(s->fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS)
        return -errno;
    return 0;
}

/* TCP phase: returns -EAGAIN (wait for POLLOUT), 0 (connected), or -errno (every address failed). */
static int s_tcp_step(ssh_t *s)
{
    for (;;) {
        int e;
        if (s->fd < 0) {
            e = s_tcp_start(s);
            if (e == 0)
                return -EAGAIN; /* writable once connected (or failed) */
        } else {
            struct pollfd p = {.fd = s->fd, .events = POLLOUT};
            if (poll(&p, 1, 0) == 0)
                return -EAGAIN;
            int so = 0;
            socklen_t len = sizeof so;
            if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &so, &len) < 0)
                so = errno;
            if (so == 0)
                return 0;
            e = -so;
        }
        if (!s->ai_cur->ai_next)
            return s_fail(s, e, "TCP connect to %s port %u: %s", s->addr, (unsigned)s->t.port, strerror(-e));
        s->ai_cur = s->ai_cur->ai_next;
        close(s->fd);
        s->fd = -1;
    }
}

static const char *s_keytype_name(int type)
{
    switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa";
    case LIBSSH2_HOSTKEY_TYPE_DSS: return "ssh-dss";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ecdsa-sha2-nistp256";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ecdsa-sha2-nistp384";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa-sha2-nistp521";
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519";
    default: return "unknown";
    }
}

static int s_keytype_mask(int type)
{
    switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    }
}

/* Which known_hosts line each libssh2 entry came from. */
typedef struct {
    const struct libssh2_knownhost *e; /* not owned */
    unsigned line;                     /* 1-based */
} s_khline_t;

/* Loads s->known_hosts line by line (so that one line libssh2 cannot parse — @cert-authority,
 * security-key types — does not lose the others, and so that every entry keeps its line number).
 * Returns the number of entries, or -errno (a missing file is 0 entries). */
static int s_kh_load(ssh_t *s, LIBSSH2_KNOWNHOSTS *kh, s_khline_t **map, size_t *n_map, const char *key_b64,
                     unsigned *revoked)
{
    FILE *f = fopen(s->known_hosts, "re");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    char line[8192];
    unsigned no = 0;
    size_t cap = 0;
    int count = 0, rc = 0;
    struct libssh2_knownhost *last = NULL;
    while (fgets(line, sizeof line, f)) {
        no++;
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!strncmp(p, "@revoked", 8) && (p[8] == ' ' || p[8] == '\t')) {
            /* "@revoked HOSTS TYPE KEY": that key is refused for any host (stricter than OpenSSH). */
            char hosts[1024], type[64], b64[4096];
            if (sscanf(p + 8, "%1023s %63s %4095s", hosts, type, b64) == 3 && !strcmp(b64, key_b64) && !*revoked)
                *revoked = no;
            continue;
        }
        if (!*p || *p == '#' || *p == '\n' || *p == '@') /* other markers (@cert-authority): not supported */
            continue;
        if (libssh2_knownhost_readline(kh, p, strlen(p), LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
            continue;
        struct libssh2_knownhost *e = NULL;
        for (int g = libssh2_knownhost_get(kh, &e, last); g == 0; g = libssh2_knownhost_get(kh, &e, last)) {
            if (*n_map == cap) {
                size_t nc = cap ? cap * 2 : 32;
                s_khline_t *m = realloc(*map, nc * sizeof *m);
                if (!m) {
                    rc = -ENOMEM;
                    goto out;
                }
                *map = m;
                cap = nc;
            }
            (*map)[(*n_map)++] = (s_khline_t){e, no};
            last = e;
            count++;
        }
    }
out:
    fclose(f);
    return rc < 0 ? rc : count;
}

/* Appends the host's key to known_hosts (accept-new). Returns 0 or -errno. */
static int s_kh_append(ssh_t *s, LIBSSH2_KNOWNHOSTS *kh, const char *key, size_t klen, int kmask)
{
    char name[SSH_HOST_MAX + 16];
    if (s->t.port == SSH_DEFAULT_PORT)
        snprintf(name, sizeof name, "%s", s->t.host);
    else
        snprintf(name, sizeof name, "[%s]:%u", s->t.host, (unsigned)s->t.port);
    struct libssh2_knownhost *e = NULL;
    int rc = libssh2_knownhost_addc(kh, name, NULL, key, klen, NULL, 0,
                                    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kmask, &e);
    if (rc != 0)
        return s_fail(s, s_errno(rc), "cannot record the host key: %s", s_lerr(s));
    char line[4096];
    size_t len = 0;
    rc = libssh2_knownhost_writeline(kh, e, line, sizeof line, &len, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
    if (rc != 0)
        return s_fail(s, s_errno(rc), "cannot format the host key line: %s", s_lerr(s));
    int fd = open(s->known_hosts, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return s_fail(s, -errno, "cannot record the host key in %s: %s", s->known_hosts, strerror(errno));
    ssize_t w = write(fd, line, len); /* one write: lines of concurrent sessions never interleave */
    int e2 = errno;
    close(fd);
    if (w != (ssize_t)len)
        return s_fail(s, w < 0 ? -e2 : -EIO, "cannot record the host key in %s: %s", s->known_hosts,
                      w < 0 ? strerror(e2) : "short write");
    return 0;
}

/* Checks the server's host key against known_hosts. Returns 0 or -errno (with the reason). */
static int s_hostkey(ssh_t *s)
{
    size_t klen = 0;
    int ktype = 0;
    const char *key = libssh2_session_hostkey(s->ses, &klen, &ktype);
    const unsigned char *h = (const unsigned char *)libssh2_hostkey_hash(s->ses, LIBSSH2_HOSTKEY_HASH_SHA256);
    if (!key || !h)
        return s_fail(s, -EPROTO, "the server sent no usable host key");
    unsigned char b64[48];
    int n = EVP_EncodeBlock(b64, h, 32);
    while (n > 0 && b64[n - 1] == '=') /* OpenSSH prints SHA256 fingerprints unpadded */
        n--;
    b64[n > 0 ? n : 0] = 0;
    snprintf(s->fingerprint, sizeof s->fingerprint, "SHA256:%s", (const char *)b64);
    const char *tname = s_keytype_name(ktype);
    int kmask = s_keytype_mask(ktype);

    LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(s->ses);
    if (!kh)
        return s_fail(s, -ENOMEM, "out of memory for known_hosts");
    s_khline_t *map = NULL;
    size_t n_map = 0;
    unsigned revoked = 0;
    int rc;
    char *key_b64 = malloc(4 * ((klen + 2) / 3) + 1);
    if (!key_b64) {
        rc = s_fail(s, -ENOMEM, "out of memory for the host key");
        goto out;
    }
    EVP_EncodeBlock((unsigned char *)key_b64, (const unsigned char *)key, (int)klen);
    rc = s_kh_load(s, kh, &map, &n_map, key_b64, &revoked);
    if (rc < 0) {
        rc = s_fail(s, rc, "cannot read known_hosts %s: %s", s->known_hosts, strerror(-rc));
        goto out;
    }
    if (revoked) {
        rc = s_fail(s, -EKEYREVOKED, "the host key of %s (%s %s) is marked @revoked (known_hosts %s line %u): refusing",
                    s->t.host, tname, s->fingerprint, s->known_hosts, revoked);
        goto out;
    }
    struct libssh2_knownhost *found = NULL;
    int chk = libssh2_knownhost_checkp(kh, s->t.host, s->t.port, key, klen,
                                       LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kmask, &found);
    switch (chk) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH: rc = 0; break;
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH: {
        unsigned line = 0;
        for (size_t i = 0; i < n_map; i++)
            if (map[i].e == found)
                line = map[i].line;
        char where[64] = "";
        if (line)
            snprintf(where, sizeof where, " line %u", line);
        rc = s_fail(s, -EKEYREJECTED,
                    "host key mismatch for %s (known_hosts %s%s): refusing; the server offers %s key %s; if the "
                    "host was reinstalled, remove the old entry (ssh-keygen -R)",
                    s->t.host, s->known_hosts, where, tname, s->fingerprint);
        break;
    }
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
        if (s->cfg.hostkey_policy == SSH_HOSTKEY_ACCEPT_NEW) {
            rc = s_kh_append(s, kh, key, klen, kmask);
            break;
        }
        rc = s_fail(s, -ENOKEY,
                    "unknown host key for %s (%s %s, not in known_hosts %s): refusing; check the fingerprint and "
                    "add it, or allow accept-new",
                    s->t.host, tname, s->fingerprint, s->known_hosts);
        break;
    default: rc = s_fail(s, -EIO, "cannot check the host key: %s", s_lerr(s)); break;
    }
out:
    free(key_b64);
    free(map);
    libssh2_knownhost_free(kh);
    return rc;
}

/* ---- authentication ----------------------------------------------------------------------------- */

static void s_note(ssh_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_note(ssh_t *s, const char *fmt, ...)
{
    size_t n = strlen(s->auth_notes);
    if (n + 3 >= sizeof s->auth_notes)
        return;
    if (n)
        n += (size_t)snprintf(s->auth_notes + n, sizeof s->auth_notes - n, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->auth_notes + n, sizeof s->auth_notes - n, fmt, ap);
    va_end(ap);
}

static bool s_offered(const ssh_t *s, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = s->methods; (p = strstr(p, method)) != NULL; p += n)
        if ((p == s->methods || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
            return true;
    return false;
}

static LIBSSH2_USERAUTH_KBDINT_RESPONSE_FUNC(s_kbdint)
{
    (void)name;
    (void)name_len;
    (void)instruction;
    (void)instruction_len;
    (void)prompts;
    ssh_t *s = *abstract;
    for (int i = 0; i < num_prompts; i++) { /* every prompt of a password-only server asks for the password */
        responses[i].text = strdup(s->t.password);
        responses[i].length = responses[i].text ? (unsigned)strlen(s->t.password) : 0;
    }
}

/* Authentication phases: key file, agent, password, keyboard-interactive. Returns -EAGAIN, 0 or -errno. */
static int s_auth_step(ssh_t *s)
{
    unsigned ulen = (unsigned)strlen(s->t.user);
    int rc;
    switch (s->phase) {
    case P_AUTHLIST: {
        char *m = libssh2_userauth_list(s->ses, s->t.user, ulen);
        if (!m) {
            if (libssh2_userauth_authenticated(s->ses)) {
                s->auth_method = "none";
                return 0;
            }
            if (s_last(s) == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            return s_fail(s, s_errno(s_last(s)), "cannot list authentication methods: %s", s_lerr(s));
        }
        snprintf(s->methods, sizeof s->methods, "%s", m);
        s->phase = P_KEY;
    }
        __attribute__((fallthrough));
    case P_KEY:
        if (s->private_key && s_offered(s, "publickey")) {
            rc = libssh2_userauth_publickey_fromfile_ex(s->ses, s->t.user, ulen, NULL, s->private_key, s->passphrase);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            if (rc == 0) {
                s->auth_method = "publickey";
                return 0;
            }
            s_note(s, "key %s: %s", s->private_key,
                   rc == LIBSSH2_ERROR_FILE ? "cannot read or decode it" : "refused by the server");
        } else if (s->private_key) {
            s_note(s, "key %s: publickey not offered", s->private_key);
        }
        s->phase = P_AGENT;
        __attribute__((fallthrough));
    case P_AGENT:
        if (s->agent_socket && s_offered(s, "publickey")) {
            if (!s->agent) {
                s->agent = libssh2_agent_init(s->ses);
                if (!s->agent)
                    return s_fail(s, -ENOMEM, "out of memory for the ssh-agent");
                libssh2_agent_set_identity_path(s->agent, s->agent_socket);
                if (libssh2_agent_connect(s->agent) != 0 || libssh2_agent_list_identities(s->agent) != 0) {
                    s_note(s, "ssh-agent %s: %s", s->agent_socket, s_lerr(s));
                    goto agent_done;
                }
                s->ident = NULL;
                if (libssh2_agent_get_identity(s->agent, &s->ident, NULL) != 0) {
                    s_note(s, "ssh-agent: no keys");
                    goto agent_done;
                }
            }
            while (s->ident) {
                rc = libssh2_agent_userauth(s->agent, s->t.user, s->ident);
                if (rc == LIBSSH2_ERROR_EAGAIN)
                    return -EAGAIN;
                if (rc == 0) {
                    s->auth_method = "agent";
                    return 0;
                }
                s->agent_tried++;
                struct libssh2_agent_publickey *prev = s->ident;
                if (libssh2_agent_get_identity(s->agent, &s->ident, prev) != 0)
                    s->ident = NULL;
            }
            if (s->agent_tried)
                s_note(s, "ssh-agent: %u key%s refused", s->agent_tried, s->agent_tried == 1 ? "" : "s");
        }
    agent_done:
        s->phase = P_PASSWORD;
        __attribute__((fallthrough));
    case P_PASSWORD:
        if (s->t.password[0] && s_offered(s, "password")) {
            rc = libssh2_userauth_password_ex(s->ses, s->t.user, ulen, s->t.password, (unsigned)strlen(s->t.password),
                                              NULL);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            if (rc == 0) {
                s->auth_method = "password";
                return 0;
            }
            s_note(s, "password: refused");
        }
        s->phase = P_KBDINT;
        __attribute__((fallthrough));
    case P_KBDINT:
        if (s->t.password[0] && s_offered(s, "keyboard-interactive")) {
            rc = libssh2_userauth_keyboard_interactive_ex(s->ses, s->t.user, ulen, s_kbdint);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            if (rc == 0) {
                s->auth_method = "keyboard-interactive";
                return 0;
            }
            s_note(s, "keyboard-interactive: refused");
        } else if (!s->t.password[0]) {
            s_note(s, "password: none given");
        }
        break;
    default: break;
    }
    return s_fail(s, -EACCES, "authentication failed for user %s (server offers: %s): %s", s->t.user,
                  s->methods[0] ? s->methods : "nothing", s->auth_notes[0] ? s->auth_notes : "no method to try");
}

static int s_connect_step(ssh_t *s)
{
    int rc;
    switch (s->phase) {
    case P_RESOLVE:
        if ((rc = s_resolve(s)) < 0)
            return rc;
        s->phase = P_TCP;
        __attribute__((fallthrough));
    case P_TCP:
        if ((rc = s_tcp_step(s)) < 0)
            return rc;
        s->ses = libssh2_session_init_ex(NULL, NULL, NULL, s);
        if (!s->ses)
            return s_fail(s, -ENOMEM, "out of memory for an SSH session");
        libssh2_session_set_blocking(s->ses, 0);
        libssh2_session_callback_set(s->ses, LIBSSH2_CALLBACK_SEND, (void *)s_send);
        s->phase = P_HANDSHAKE;
        __attribute__((fallthrough));
    case P_HANDSHAKE:
        rc = libssh2_session_handshake(s->ses, s->fd);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return -EAGAIN;
        if (rc != 0)
            return s_fail(s, s_errno(rc), "SSH handshake with %s failed: %s", s->addr, s_lerr(s));
        s->phase = P_HOSTKEY;
        __attribute__((fallthrough));
    case P_HOSTKEY:
        if ((rc = s_hostkey(s)) < 0)
            return rc;
        s->phase = P_AUTHLIST;
        __attribute__((fallthrough));
    default:
        if ((rc = s_auth_step(s)) < 0)
            return rc;
        s->connected = true;
        return 0;
    }
}

/* ---- remote commands ---------------------------------------------------------------------------- */

/* Appends to a bounded output buffer. Returns 0 or -ENOMEM. */
static int s_buf_add(s_buf_t *b, size_t max, const char *data, size_t n)
{
    if (!b->p) {
        b->p = malloc(max + 1);
        if (!b->p)
            return -ENOMEM;
        b->p[0] = 0;
    }
    size_t room = max - b->len, take = n < room ? n : room;
    memcpy(b->p + b->len, data, take);
    b->len += take;
    b->p[b->len] = 0;
    if (take < n)
        b->trunc = true;
    return 0;
}

/* Prepares s->cmd to run line (copied) with input (copied) and an optional ready prefix. */
static int s_cmd_prepare(ssh_t *s, const char *line, const void *input, size_t len, const char *ready)
{
    s_cmd_reset(&s->cmd);
    s->out.len = s->err.len = 0;
    s->out.trunc = s->err.trunc = false;
    if (s->out.p)
        s->out.p[0] = 0;
    if (s->err.p)
        s->err.p[0] = 0;
    s->has_res = false;
    s->cmd.line = strdup(line);
    if (!s->cmd.line)
        return -ENOMEM;
    if (input && len) {
        s->cmd.in = malloc(len);
        if (!s->cmd.in)
            return -ENOMEM;
        memcpy(s->cmd.in, input, len);
        s->cmd.in_len = len;
    }
    s->cmd.ready = ready;
    return 0;
}

/* Looks for a complete stdout line beginning with the ready prefix; copies it to s->ready_line. */
static bool s_find_ready(ssh_t *s)
{
    size_t plen = strlen(s->cmd.ready);
    for (const char *p = s->out.p; p && *p;) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        if ((size_t)(nl - p) >= plen && !strncmp(p, s->cmd.ready, plen)) {
            size_t n = (size_t)(nl - p);
            if (n >= sizeof s->ready_line)
                n = sizeof s->ready_line - 1;
            memcpy(s->ready_line, p, n);
            s->ready_line[n] = 0;
            const char *pid = strstr(s->ready_line, "pid=");
            if (pid) {
                char *e = NULL;
                long v = strtol(pid + 4, &e, 10);
                s->bg_pid = (e != pid + 4 && v > 0) ? v : 0;
            }
            return true;
        }
        p = nl + 1;
    }
    return false;
}

static void s_publish(ssh_t *s, int exit_status, const char *sig)
{
    s->res = (ssh_result_t){
        .exit_status = exit_status,
        .out = s->out.p ? s->out.p : "",
        .out_len = s->out.len,
        .err = s->err.p ? s->err.p : "",
        .err_len = s->err.len,
        .out_truncated = s->out.trunc,
        .err_truncated = s->err.trunc,
    };
    snprintf(s->res.exit_signal, sizeof s->res.exit_signal, "%s", sig ? sig : "");
    s->has_res = true;
}

/* Advances s->cmd. Returns -EAGAIN, 0 (done: exited, or its ready line arrived), or -errno. */
static int s_cmd_step(ssh_t *s)
{
    s_cmd_t *c = &s->cmd;
    int rc;
    switch (c->phase) {
    case C_OPEN:
        c->ch = libssh2_channel_open_session(s->ses);
        if (!c->ch) {
            if (s_last(s) == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            return s_fail(s, s_errno(s_last(s)), "cannot open an SSH channel: %s", s_lerr(s));
        }
        c->phase = C_EXEC;
        __attribute__((fallthrough));
    case C_EXEC:
        rc = libssh2_channel_exec(c->ch, c->line);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return -EAGAIN;
        if (rc != 0)
            return s_fail(s, s_errno(rc), "the server refused to run a command: %s", s_lerr(s));
        c->phase = c->in ? C_WRITE : C_EOF;
        if (!c->in)
            goto eof;
        __attribute__((fallthrough));
    case C_WRITE:
        while (c->in_off < c->in_len) {
            ssize_t w = libssh2_channel_write(c->ch, (const char *)c->in + c->in_off, c->in_len - c->in_off);
            if (w == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            if (w < 0)
                return s_fail(s, s_errno((int)w), "cannot write the command's input: %s", s_lerr(s));
            c->in_off += (size_t)w;
        }
        s_wipe(c->in, c->in_len);
        c->phase = C_EOF;
        __attribute__((fallthrough));
    case C_EOF:
    eof:
        c->phase = C_EOF;
        rc = libssh2_channel_send_eof(c->ch);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return -EAGAIN;
        if (rc != 0)
            return s_fail(s, s_errno(rc), "cannot close the command's input: %s", s_lerr(s));
        c->phase = C_READ;
        __attribute__((fallthrough));
    case C_READ:
        for (;;) {
            char buf[16384];
            bool again = true;
            for (int stream = 0; stream < 2; stream++) {
                ssize_t r = libssh2_channel_read_ex(c->ch, stream, buf, sizeof buf);
                if (r > 0) {
                    again = false;
                    if (s_buf_add(stream ? &s->err : &s->out, s->cfg.output_max, buf, (size_t)r) < 0)
                        return s_fail(s, -ENOMEM, "out of memory for command output");
                } else if (r == 0) {
                    if (libssh2_channel_eof(c->ch))
                        *(stream ? &c->eof_err : &c->eof_out) = true;
                } else if (r != LIBSSH2_ERROR_EAGAIN) {
                    return s_fail(s, s_errno((int)r), "lost the command's output: %s", s_lerr(s));
                }
            }
            if (c->ready && !c->ready_found && s_find_ready(s)) {
                c->ready_found = true;
                s_publish(s, -1, NULL);
                return 0;
            }
            if (c->eof_out && c->eof_err)
                break;
            if (again)
                return -EAGAIN;
        }
        c->phase = C_CLOSE;
        __attribute__((fallthrough));
    case C_CLOSE:
        rc = libssh2_channel_close(c->ch);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return -EAGAIN;
        c->phase = C_WAIT;
        __attribute__((fallthrough));
    case C_WAIT:
        if (libssh2_channel_wait_closed(c->ch) == LIBSSH2_ERROR_EAGAIN)
            return -EAGAIN;
        {
            char *sig = NULL;
            size_t siglen = 0;
            libssh2_channel_get_exit_signal(c->ch, &sig, &siglen, NULL, NULL, NULL, NULL);
            int st = sig ? -1 : libssh2_channel_get_exit_status(c->ch);
            s_publish(s, st, sig);
            if (sig)
                libssh2_free(s->ses, sig);
        }
        c->phase = C_FREE;
        __attribute__((fallthrough));
    case C_FREE:
        rc = libssh2_channel_free(c->ch);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return -EAGAIN;
        c->ch = NULL;
        c->phase = C_DONE;
        __attribute__((fallthrough));
    default: return 0;
    }
}

int ssh_exec(ssh_t *s, const char *cmd, int64_t timeout_ns)
{
    int rc = s_op_begin(s, S_OP_EXEC, timeout_ns > 0 ? timeout_ns : s->cfg.command_timeout_ns);
    if (rc < 0)
        return rc;
    if ((rc = s_cmd_prepare(s, cmd, NULL, 0, NULL)) < 0)
        s_op_end(s, rc);
    return rc;
}

int ssh_mkdtemp(ssh_t *s)
{
    int rc = s_op_begin(s, S_OP_MKDTEMP, s->cfg.command_timeout_ns);
    if (rc < 0)
        return rc;
    if ((rc = s_cmd_prepare(s, "umask 077 && mktemp -d \"${TMPDIR:-/tmp}/vmtp.XXXXXX\"", NULL, 0, NULL)) < 0)
        s_op_end(s, rc);
    return rc;
}

static int s_mkdtemp_done(ssh_t *s)
{
    char dir[S_PATH_MAX];
    size_t n = strcspn(s->res.out, "\n");
    if (s->res.exit_status != 0 || n == 0 || n >= sizeof dir)
        return s_fail(s, -EIO, "mktemp -d failed (exit status %d): %.200s", s->res.exit_status, s->res.err);
    memcpy(dir, s->res.out, n);
    dir[n] = 0;
    if (!s_safe_path(dir) || !strstr(dir, "/vmtp."))
        return s_fail(s, -EIO, "mktemp -d gave an unexpected path '%.200s'", dir);
    snprintf(s->rdir, sizeof s->rdir, "%s", dir);
    return 0;
}

/* ---- upload ------------------------------------------------------------------------------------- */

int ssh_sha256_file(const char *path, char hex[65])
{
    int rc = 0;
    FILE *f = fopen(path, "rbe");
    if (!f)
        return -errno;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        rc = -ENOMEM;
        goto out;
    }
    unsigned char buf[65536], md[32];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        EVP_DigestUpdate(ctx, buf, n);
    if (ferror(f)) {
        rc = -EIO;
        goto out;
    }
    unsigned mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
    EVP_MD_CTX_free(ctx);
    fclose(f);
    return rc;
}

/* Reads a whole local file (at most S_UPLOAD_MAX bytes) and hashes it. */
static int s_read_local(ssh_t *s, const char *path)
{
    int rc = 0;
    FILE *f = fopen(path, "rbe");
    if (!f)
        return s_fail(s, -errno, "cannot read %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > S_UPLOAD_MAX) {
        rc = s_fail(s, -EINVAL, "%s is not a regular file of at most 1 GiB", path);
        goto out;
    }
    s->up_len = (size_t)st.st_size;
    s->up_data = malloc(s->up_len ? s->up_len : 1);
    if (!s->up_data) {
        rc = s_fail(s, -ENOMEM, "out of memory for %s", path);
        goto out;
    }
    if (fread(s->up_data, 1, s->up_len, f) != s->up_len) {
        rc = s_fail(s, -EIO, "cannot read %s", path);
        goto out;
    }
    unsigned char md[32];
    unsigned mdlen = 0;
    if (!EVP_Digest(s->up_data, s->up_len, md, &mdlen, EVP_sha256(), NULL)) {
        rc = s_fail(s, -EIO, "cannot hash %s", path);
        goto out;
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(s->up_hash + 2 * i, 3, "%02x", md[i]);
out:
    fclose(f);
    return rc;
}

int ssh_upload(ssh_t *s, const char *local_path, const char *remote_path)
{
    if (!s_safe_path(remote_path))
        return -EINVAL;
    int rc = s_op_begin(s, S_OP_UPLOAD, s->cfg.upload_timeout_ns);
    if (rc < 0)
        return rc;
    s->up_method = "";
    s->up_off = 0;
    s->up_remote = strdup(remote_path);
    if (!s->up_remote) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = s_read_local(s, local_path)) < 0)
        goto fail;
    char q[2 * S_PATH_MAX], line[4 * S_PATH_MAX];
    s_shquote(q, sizeof q, remote_path);
    int len = snprintf(line, sizeof line, "chmod 0700 -- %s 2>/dev/null && sha256sum -- %s 2>/dev/null", q, q);
    if (len < 0 || (size_t)len >= sizeof line) {
        rc = -ENAMETOOLONG;
        goto fail;
    }
    if ((rc = s_cmd_prepare(s, line, NULL, 0, NULL)) < 0)
        goto fail;
    s->phase = U_CHECK;
    return 0;
fail:
    s->status = rc; /* the reason, if any, is in s->error */
    s_op_end(s, rc);
    return rc;
}

static const char *s_sftp_err(ssh_t *s)
{
    if (s_last(s) != LIBSSH2_ERROR_SFTP_PROTOCOL || !s->sftp)
        return s_lerr(s);
    switch (libssh2_sftp_last_error(s->sftp)) {
    case LIBSSH2_FX_NO_SUCH_FILE:
    case LIBSSH2_FX_NO_SUCH_PATH: return "no such file or directory";
    case LIBSSH2_FX_PERMISSION_DENIED: return "permission denied";
    case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: return "no space left";
    case LIBSSH2_FX_QUOTA_EXCEEDED: return "quota exceeded";
    default: return "SFTP failure";
    }
}

/* Starts the final command: moves the .part file into place and hashes it. */
static int s_upload_final(ssh_t *s)
{
    char q[2 * S_PATH_MAX], qp[2 * S_PATH_MAX], part[S_PATH_MAX], line[6 * S_PATH_MAX];
    snprintf(part, sizeof part, "%s.part", s->up_remote);
    s_shquote(q, sizeof q, s->up_remote);
    s_shquote(qp, sizeof qp, part);
    int len = snprintf(line, sizeof line, "chmod 0700 -- %s && mv -f -- %s %s && sha256sum -- %s", qp, qp, q, q);
    if (len < 0 || (size_t)len >= sizeof line)
        return -ENAMETOOLONG;
    s->phase = U_FINAL;
    return s_cmd_prepare(s, line, NULL, 0, NULL);
}

static int s_upload_step(ssh_t *s);

/* After an SFTP failure: closes the file and the SFTP session (so that this session stays usable), then
 * ends the upload with err. */
static int s_sftp_abort(ssh_t *s, int err)
{
    s->up_err = err;
    s->phase = U_SFTP_ABORT;
    return s_upload_step(s);
}

static int s_upload_step(ssh_t *s)
{
    char part[S_PATH_MAX];
    snprintf(part, sizeof part, "%s.part", s->up_remote);
    int rc;
    switch (s->phase) {
    case U_CHECK:
        if ((rc = s_cmd_step(s)) < 0)
            return rc;
        if (s->res.exit_status == 0 && !strncmp(s->res.out, s->up_hash, 64)) {
            s->up_method = "skipped";
            return 0;
        }
        s->phase = U_SFTP_INIT;
        __attribute__((fallthrough));
    case U_SFTP_INIT:
        s->sftp = libssh2_sftp_init(s->ses);
        if (!s->sftp) {
            if (s_last(s) == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            s->phase = U_SCP_OPEN; /* no SFTP subsystem: SCP */
            goto scp;
        }
        s->phase = U_SFTP_OPEN;
        __attribute__((fallthrough));
    case U_SFTP_OPEN:
        s->sh = libssh2_sftp_open_ex(s->sftp, part, (unsigned)strlen(part),
                                     LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, LIBSSH2_SFTP_S_IRWXU,
                                     LIBSSH2_SFTP_OPENFILE);
        if (!s->sh) {
            if (s_last(s) == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            return s_sftp_abort(s, s_fail(s, -EIO, "SFTP cannot create %s: %s", part, s_sftp_err(s)));
        }
        s->phase = U_SFTP_WRITE;
        __attribute__((fallthrough));
    case U_SFTP_WRITE:
        while (s->up_off < s->up_len) {
            size_t n = s->up_len - s->up_off;
            ssize_t w = libssh2_sftp_write(s->sh, (const char *)s->up_data + s->up_off,
                                           n < S_UPLOAD_CHUNK ? n : S_UPLOAD_CHUNK);
            if (w == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            if (w < 0)
                return s_sftp_abort(s, s_fail(s, -EIO, "SFTP write to %s failed: %s", part, s_sftp_err(s)));
            s->up_off += (size_t)w;
        }
        s->phase = U_SFTP_CLOSE;
        __attribute__((fallthrough));
    case U_SFTP_CLOSE:
        rc = libssh2_sftp_close_handle(s->sh);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return -EAGAIN;
        s->sh = NULL;
        if (rc != 0)
            return s_sftp_abort(s, s_fail(s, -EIO, "SFTP close of %s failed: %s", part, s_sftp_err(s)));
        s->phase = U_SFTP_END;
        __attribute__((fallthrough));
    case U_SFTP_END:
        rc = libssh2_sftp_shutdown(s->sftp);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return -EAGAIN;
        s->sftp = NULL;
        s->up_method = "sftp";
        if ((rc = s_upload_final(s)) < 0)
            return s_fail(s, rc, "out of memory");
        return s_upload_step(s);
    case U_SCP_OPEN:
    scp:
        s->scp = libssh2_scp_send64(s->ses, part, 0700, (libssh2_int64_t)s->up_len, 0, 0);
        if (!s->scp) {
            if (s_last(s) == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            return s_fail(s, -EIO, "SCP (the server has no SFTP) cannot create %s: %s", part, s_lerr(s));
        }
        s->phase = U_SCP_WRITE;
        __attribute__((fallthrough));
    case U_SCP_WRITE:
        while (s->up_off < s->up_len) {
            size_t n = s->up_len - s->up_off;
            ssize_t w = libssh2_channel_write(s->scp, (const char *)s->up_data + s->up_off,
                                              n < S_UPLOAD_CHUNK ? n : S_UPLOAD_CHUNK);
            if (w == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            if (w < 0)
                return s_fail(s, -EIO, "SCP write to %s failed: %s", part, s_lerr(s));
            s->up_off += (size_t)w;
        }
        s->phase = U_SCP_EOF;
        __attribute__((fallthrough));
    case U_SCP_EOF:
        rc = libssh2_channel_send_eof(s->scp);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return -EAGAIN;
        s->phase = U_SCP_WAITEOF;
        __attribute__((fallthrough));
    case U_SCP_WAITEOF:
        rc = libssh2_channel_wait_eof(s->scp);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return -EAGAIN;
        s->phase = U_SCP_FREE;
        __attribute__((fallthrough));
    case U_SCP_FREE:
        rc = libssh2_channel_free(s->scp);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return -EAGAIN;
        s->scp = NULL;
        s->up_method = "scp";
        if ((rc = s_upload_final(s)) < 0)
            return s_fail(s, rc, "out of memory");
        __attribute__((fallthrough));
    case U_FINAL:
        s->phase = U_FINAL;
        if ((rc = s_cmd_step(s)) < 0)
            return rc;
        if (s->res.exit_status != 0)
            return s_fail(s, -EIO, "cannot move %s into place (exit status %d): %.200s", part, s->res.exit_status,
                          s->res.err);
        if (strncmp(s->res.out, s->up_hash, 64) != 0)
            return s_fail(s, -EIO, "%s arrived damaged: its SHA-256 differs from the local file's", s->up_remote);
        return 0;
    case U_SFTP_ABORT:
        if (s->sh) {
            if (libssh2_sftp_close_handle(s->sh) == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            s->sh = NULL;
        }
        if (s->sftp) {
            if (libssh2_sftp_shutdown(s->sftp) == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            s->sftp = NULL;
        }
        return s->up_err;
    default: return s_fail(s, -EINVAL, "upload in an unknown phase");
    }
}

/* ---- the long-running command, and cleanup ------------------------------------------------------ */

int ssh_start(ssh_t *s, const char *cmd, const void *input, size_t len, const char *ready_prefix, int64_t timeout_ns)
{
    if (!ready_prefix || !*ready_prefix)
        return -EINVAL;
    if (s->bg && s->op == S_OP_NONE)
        return -EBUSY;
    int rc = s_op_begin(s, S_OP_START, timeout_ns > 0 ? timeout_ns : s->cfg.command_timeout_ns);
    if (rc < 0)
        return rc;
    s->ready_line[0] = 0;
    s->bg_pid = 0;
    s->bg_tail[0] = 0;
    s->bg_tail_len = 0;
    /* The prefix lives in the command buffer after the command itself (one allocation, freed with it). */
    if ((rc = s_cmd_prepare(s, cmd, input, len, NULL)) < 0)
        goto fail;
    size_t cl = strlen(cmd), pl = strlen(ready_prefix);
    char *both = realloc(s->cmd.line, cl + pl + 2);
    if (!both) {
        rc = -ENOMEM;
        goto fail;
    }
    memcpy(both + cl + 1, ready_prefix, pl + 1);
    s->cmd.line = both;
    s->cmd.ready = both + cl + 1;
    return 0;
fail:
    s_op_end(s, rc);
    return rc;
}

static int s_start_step(ssh_t *s)
{
    int rc = s_cmd_step(s);
    if (rc < 0)
        return rc;
    if (!s->cmd.ready_found) { /* it ended before its ready line */
        const char *e = s->res.err;
        size_t n = s->res.err_len;
        if (n > 300) {
            e += n - 300;
            n = 300;
        }
        return s_fail(s, -ECHILD, "the command ended (exit status %d%s%s) before printing '%s': %.*s",
                      s->res.exit_status, s->res.exit_signal[0] ? ", signal " : "", s->res.exit_signal, s->cmd.ready,
                      (int)n, e);
    }
    s->bg = s->cmd.ch;
    s->bg_eof = false;
    s->cmd.ch = NULL;
    return 0;
}

int ssh_cleanup(ssh_t *s)
{
    int rc = s_op_begin(s, S_OP_CLEANUP, s->cfg.command_timeout_ns);
    if (rc == -ENOTCONN && !s->rdir[0] && !s->bg) {
        /* Nothing to clean: done, even on a session that never connected. */
        if (s->op != S_OP_NONE)
            return -EBUSY;
        s->op = S_OP_CLEANUP;
        s->phase = K_BG_FREE + 1;
        s->status = -EAGAIN;
        s->error[0] = 0;
        s->deadline = clock_mono_ns() + s->cfg.command_timeout_ns;
        return 0;
    }
    if (rc < 0)
        return rc;
    s->phase = K_BG_CLOSE;
    if (!s->rdir[0])
        return 0;
    char q[2 * S_PATH_MAX], line[4 * S_PATH_MAX + 600];
    s_shquote(q, sizeof q, s->rdir);
    /* Processes are ours only if their program lies in our directory: nobody else's is signalled. */
    snprintf(
        line, sizeof line,
        "d=%s; own() { case \"$(readlink \"/proc/$1/exe\" 2>/dev/null)\" in \"$d\"/*) return 0;; esac; return 1; }; "
        "procs() { for x in /proc/[0-9]*; do x=${x#/proc/}; own \"$x\" && echo \"$x\"; done; }; "
        "l=$(procs); [ -z \"$l\" ] || kill $l 2>/dev/null; i=0; "
        "while [ -n \"$l\" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); l=$(procs); done; "
        "[ -z \"$l\" ] || kill -9 $l 2>/dev/null; rm -rf -- \"$d\"; [ ! -e \"$d\" ]",
        q);
    if ((rc = s_cmd_prepare(s, line, NULL, 0, NULL)) < 0) {
        s_op_end(s, rc);
        return rc;
    }
    s->phase = K_CMD;
    return 0;
}

static int s_cleanup_step(ssh_t *s)
{
    int rc;
    switch (s->phase) {
    case K_CMD:
        if ((rc = s_cmd_step(s)) < 0)
            return rc;
        if (s->res.exit_status != 0)
            return s_fail(s, -EIO, "cleanup of %s failed (exit status %d): %.200s", s->rdir, s->res.exit_status,
                          s->res.err);
        s->rdir[0] = 0;
        s->bg_pid = 0;
        s->phase = K_BG_CLOSE;
        __attribute__((fallthrough));
    case K_BG_CLOSE:
        if (s->bg) {
            rc = libssh2_channel_close(s->bg);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
        }
        s->phase = K_BG_FREE;
        __attribute__((fallthrough));
    case K_BG_FREE:
        if (s->bg) {
            rc = libssh2_channel_free(s->bg);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return -EAGAIN;
            s->bg = NULL;
        }
        s->bg_pid = 0;
        __attribute__((fallthrough));
    default: return 0;
    }
}

/* ---- driving ------------------------------------------------------------------------------------ */

/* Keeps the last S_TAIL_MAX bytes the started command printed after its ready line. */
static void s_tail_add(ssh_t *s, const char *p, size_t n)
{
    if (n >= S_TAIL_MAX) {
        memcpy(s->bg_tail, p + n - S_TAIL_MAX, S_TAIL_MAX);
        s->bg_tail_len = S_TAIL_MAX;
    } else {
        size_t keep = s->bg_tail_len + n > S_TAIL_MAX ? S_TAIL_MAX - n : s->bg_tail_len;
        memmove(s->bg_tail, s->bg_tail + s->bg_tail_len - keep, keep);
        memcpy(s->bg_tail + keep, p, n);
        s->bg_tail_len = keep + n;
    }
    s->bg_tail[s->bg_tail_len] = 0;
}

/* With no operation running: drains the started command's output, frees abandoned channels. */
static void s_idle(ssh_t *s)
{
    if (!s->ses || s->broken)
        return;
    if (s->bg && !s->bg_eof) {
        char buf[4096];
        for (int i = 0; i < 64; i++) {
            bool more = false;
            for (int stream = 0; stream < 2; stream++) {
                ssize_t r = libssh2_channel_read_ex(s->bg, stream, buf, sizeof buf);
                if (r > 0) {
                    s_tail_add(s, buf, (size_t)r);
                    more = true;
                } else if ((r == 0 && libssh2_channel_eof(s->bg)) || (r < 0 && r != LIBSSH2_ERROR_EAGAIN)) {
                    s->bg_eof = true;
                }
            }
            if (!more)
                break;
        }
    }
    while (s->n_zombies) {
        if (libssh2_channel_free(s->zombies[s->n_zombies - 1]) == LIBSSH2_ERROR_EAGAIN)
            break;
        s->n_zombies--;
    }
}

static const char *s_op_name(s_op_t op)
{
    switch (op) {
    case S_OP_CONNECT: return "connect";
    case S_OP_EXEC: return "command";
    case S_OP_MKDTEMP: return "mktemp";
    case S_OP_UPLOAD: return "upload";
    case S_OP_START: return "start";
    case S_OP_CLEANUP: return "cleanup";
    default: return "operation";
    }
}

static int s_timeout(ssh_t *s)
{
    double t = s_secs(s->op == S_OP_CONNECT  ? s->cfg.connect_timeout_ns
                      : s->op == S_OP_UPLOAD ? s->cfg.upload_timeout_ns
                                             : s->cfg.command_timeout_ns);
    if (s->op == S_OP_CONNECT) {
        if (s->phase <= P_TCP)
            return s_fail(s, -ETIMEDOUT, "TCP connect to %s port %u timed out (bound %.1f s)",
                          s->addr[0] ? s->addr : s->t.host, (unsigned)s->t.port, t);
        return s_fail(s, -ETIMEDOUT, "%s timed out (connect bound %.1f s)",
                      s->phase == P_HANDSHAKE ? "SSH handshake" : "authentication", t);
    }
    if (s->op == S_OP_START)
        return s_fail(s, -ETIMEDOUT, "no '%s' line from the command within its bound", s->cmd.ready);
    return s_fail(s, -ETIMEDOUT, "%s timed out", s_op_name(s->op));
}

int ssh_step(ssh_t *s)
{
    if (s->op == S_OP_NONE) {
        s_idle(s);
        return 0;
    }
    int rc;
    switch (s->op) {
    case S_OP_CONNECT: rc = s_connect_step(s); break;
    case S_OP_EXEC: rc = s_cmd_step(s); break;
    case S_OP_MKDTEMP:
        rc = s_cmd_step(s);
        if (rc == 0)
            rc = s_mkdtemp_done(s);
        break;
    case S_OP_UPLOAD: rc = s_upload_step(s); break;
    case S_OP_START: rc = s_start_step(s); break;
    case S_OP_CLEANUP: rc = s_cleanup_step(s); break;
    default: rc = -EINVAL; break;
    }
    if (rc == -EAGAIN) {
        if (clock_mono_ns() < s->deadline)
            return -EAGAIN;
        rc = s_timeout(s);
        if (s->op == S_OP_UPLOAD || (s->op == S_OP_CONNECT))
            s->broken = true;
    }
    if (rc < 0 && !s->error[0])
        s_fail(s, rc, "%s failed: %s", s_op_name(s->op), strerror(-rc));
    if (rc == -ECONNRESET || rc == -EPROTO)
        s->broken = true; /* the connection itself is gone: ssh_connected() says so from now on */
    if (rc == 0)
        s->error[0] = 0;
    s_op_end(s, rc);
    return rc;
}

void ssh_abort(ssh_t *s, const char *why)
{
    if (s->op == S_OP_NONE)
        return;
    s_fail(s, -ECANCELED, "%s stopped: %s", s_op_name(s->op), why ? why : "aborted");
    if (s->op == S_OP_UPLOAD || s->op == S_OP_CONNECT || s->cmd.phase < C_READ)
        s->broken = true; /* stopped inside a libssh2 exchange: the session's state is unknown */
    s_op_end(s, -ECANCELED);
}

int ssh_run(ssh_t *const *s, size_t n, int64_t deadline_mono_ns, const atomic_bool *stop)
{
    struct pollfd *pf = calloc(n ? n : 1, sizeof *pf);
    if (!pf)
        return -ENOMEM;
    int rc = 0;
    for (;;) {
        size_t np = 0;
        int64_t next = deadline_mono_ns;
        for (size_t i = 0; i < n; i++) {
            if (!s[i] || s[i]->op == S_OP_NONE || ssh_step(s[i]) != -EAGAIN)
                continue;
            pf[np++] = (struct pollfd){.fd = s[i]->fd, .events = ssh_events(s[i])};
            if (!next || s[i]->deadline < next)
                next = s[i]->deadline;
        }
        if (np == 0)
            break;
        int64_t now = clock_mono_ns();
        const char *why = NULL;
        if (stop && atomic_load(stop)) {
            rc = -EINTR;
            why = "interrupted";
        } else if (deadline_mono_ns && now >= deadline_mono_ns) {
            rc = -ETIMEDOUT;
            why = "the overall deadline passed";
        }
        if (why) {
            for (size_t i = 0; i < n; i++)
                if (s[i])
                    ssh_abort(s[i], why);
            break;
        }
        int64_t ms = S_POLL_SLICE_MS;
        if (next && (next - now) / VMTP_NS_PER_MS + 1 < ms)
            ms = next > now ? (next - now) / VMTP_NS_PER_MS + 1 : 0;
        if (poll(pf, np, (int)ms) < 0 && errno != EINTR) {
            rc = -errno;
            for (size_t i = 0; i < n; i++)
                if (s[i])
                    ssh_abort(s[i], "poll failed");
            break;
        }
    }
    free(pf);
    return rc;
}

/* ---- accessors ---------------------------------------------------------------------------------- */

int ssh_fd(const ssh_t *s) { return s->fd; }

short ssh_events(const ssh_t *s)
{
    if (s->op == S_OP_NONE)
        return s->bg && !s->bg_eof && !s->broken ? POLLIN : 0;
    if (!s->ses)
        return POLLOUT; /* TCP connect */
    int d = libssh2_session_block_directions(s->ses);
    short ev = (short)(((d & LIBSSH2_SESSION_BLOCK_INBOUND) ? POLLIN : 0) |
                       ((d & LIBSSH2_SESSION_BLOCK_OUTBOUND) ? POLLOUT : 0));
    return ev ? ev : POLLIN;
}

int64_t ssh_deadline_ns(const ssh_t *s) { return s->op == S_OP_NONE ? 0 : s->deadline; }
bool ssh_busy(const ssh_t *s) { return s->op != S_OP_NONE; }
bool ssh_connected(const ssh_t *s) { return s->connected && !s->broken; }
int ssh_status(const ssh_t *s) { return s->status; }
const char *ssh_error(const ssh_t *s) { return s->error; }
const ssh_result_t *ssh_result(const ssh_t *s) { return s->has_res ? &s->res : NULL; }
const char *ssh_remote_dir(const ssh_t *s) { return s->rdir; }
bool ssh_upload_skipped(const ssh_t *s) { return !strcmp(s->up_method, "skipped"); }
const char *ssh_upload_method(const ssh_t *s) { return s->up_method; }
const char *ssh_ready_line(const ssh_t *s) { return s->ready_line; }
long ssh_started_pid(const ssh_t *s) { return s->bg_pid; }
bool ssh_started_running(const ssh_t *s) { return s->bg && !s->bg_eof; }
const char *ssh_started_tail(const ssh_t *s) { return s->bg_tail; }
const char *ssh_auth_method(const ssh_t *s) { return s->auth_method; }
const char *ssh_fingerprint(const ssh_t *s) { return s->fingerprint; }
const char *ssh_peer_address(const ssh_t *s) { return ssh_connected(s) ? s->addr : ""; }

const char *ssh_label(const ssh_t *s) { return s->label; }
