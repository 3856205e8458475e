/* gss_stub.c — lets the static vmtp-node link Debian's libzmq.a without MIT Kerberos.
 *
 * Debian builds libzmq with its GSSAPI security mechanism, so libzmq.a refers to these 13 GSSAPI
 * symbols, but Debian ships Kerberos only as shared libraries. vmtp never enables that mechanism
 * (it sets no ZMQ_GSSAPI_* option: every control socket is CURVE, and a ZeroMQ peer cannot impose
 * a mechanism on a socket configured for another), so none of these is ever called. Each fails
 * with GSS_S_FAILURE should that assumption ever break, rather than doing anything. Linked only
 * into the static build (VMTP_STATIC_NODE); the shared libzmq brings the real ones.
 */
#include <stdint.h>

typedef uint32_t s_om_uint32;

#define S_GSS_S_FAILURE (13u << 16)

s_om_uint32 gss_release_name(s_om_uint32 *minor, void *name);
s_om_uint32 gss_release_buffer(s_om_uint32 *minor, void *buffer);
s_om_uint32 gss_delete_sec_context(s_om_uint32 *minor, void *ctx, void *token);
s_om_uint32 gss_release_cred(s_om_uint32 *minor, void *cred);
s_om_uint32 gss_import_name(s_om_uint32 *minor, const void *buffer, const void *type, void *name);
s_om_uint32 gss_wrap(s_om_uint32 *minor, void *ctx, int conf, unsigned qop, const void *in, int *conf_state, void *out);
s_om_uint32 gss_unwrap(s_om_uint32 *minor, void *ctx, const void *in, void *out, int *conf_state, unsigned *qop);
s_om_uint32 gss_init_sec_context(s_om_uint32 *minor, ...);
s_om_uint32 gss_display_name(s_om_uint32 *minor, ...);
s_om_uint32 gss_acquire_cred(s_om_uint32 *minor, ...);
s_om_uint32 gss_accept_sec_context(s_om_uint32 *minor, ...);

static s_om_uint32 s_fail(s_om_uint32 *minor)
{
    if (minor)
        *minor = 0;
    return S_GSS_S_FAILURE;
}

s_om_uint32 gss_release_name(s_om_uint32 *minor, void *name)
{
    (void)name;
    return s_fail(minor);
}
s_om_uint32 gss_release_buffer(s_om_uint32 *minor, void *buffer)
{
    (void)buffer;
    return s_fail(minor);
}
s_om_uint32 gss_delete_sec_context(s_om_uint32 *minor, void *ctx, void *token)
{
    (void)ctx;
    (void)token;
    return s_fail(minor);
}
s_om_uint32 gss_release_cred(s_om_uint32 *minor, void *cred)
{
    (void)cred;
    return s_fail(minor);
}
s_om_uint32 gss_import_name(s_om_uint32 *minor, const void *buffer, const void *type, void *name)
{
    (void)buffer;
    (void)type;
    (void)name;
    return s_fail(minor);
}
s_om_uint32 gss_wrap(s_om_uint32 *minor, void *ctx, int conf, unsigned qop, const void *in, int *conf_state, void *out)
{
    (void)ctx;
    (void)conf;
    (void)qop;
    (void)in;
    (void)conf_state;
    (void)out;
    return s_fail(minor);
}
s_om_uint32 gss_unwrap(s_om_uint32 *minor, void *ctx, const void *in, void *out, int *conf_state, unsigned *qop)
{
    (void)ctx;
    (void)in;
    (void)out;
    (void)conf_state;
    (void)qop;
    return s_fail(minor);
}
s_om_uint32 gss_init_sec_context(s_om_uint32 *minor, ...) { return s_fail(minor); }
s_om_uint32 gss_display_name(s_om_uint32 *minor, ...) { return s_fail(minor); }
s_om_uint32 gss_acquire_cred(s_om_uint32 *minor, ...) { return s_fail(minor); }
s_om_uint32 gss_accept_sec_context(s_om_uint32 *minor, ...) { return s_fail(minor); }

/* OID pointers libzmq reads (never dereferenced: only passed to the functions above). */
void *GSS_C_NT_USER_NAME;
void *GSS_C_NT_HOSTBASED_SERVICE;
