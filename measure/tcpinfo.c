/* tcpinfo.c — TCP_INFO sampling; see tcpinfo.h. */
#include "tcpinfo.h"

#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

int tcpinfo_read(int fd, tcpinfo_t *out)
{
    struct tcp_info ti;
    memset(&ti, 0, sizeof ti);
    memset(out, 0, sizeof *out);
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return -errno;
    out->valid = true;
    out->rtt_us = ti.tcpi_rtt;
    out->rttvar_us = ti.tcpi_rttvar;
    out->snd_cwnd = ti.tcpi_snd_cwnd;
    out->snd_mss = ti.tcpi_snd_mss;
    out->total_retrans = ti.tcpi_total_retrans;
    /* Fields added after the original struct: only trust what the kernel filled in. */
    if (len >= offsetof(struct tcp_info, tcpi_min_rtt) + sizeof ti.tcpi_min_rtt)
        out->min_rtt_us = ti.tcpi_min_rtt;
    if (len >= offsetof(struct tcp_info, tcpi_delivery_rate) + sizeof ti.tcpi_delivery_rate)
        out->delivery_rate_bps = ti.tcpi_delivery_rate * 8; /* kernel gives bytes/s */
    if (len >= offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked)
        out->bytes_acked = ti.tcpi_bytes_acked;
    return 0;
}

void tcpinfo_combine(const tcpinfo_t *in, unsigned n, tcpinfo_t *out)
{
    memset(out, 0, sizeof *out);
    uint64_t rtt = 0, rttvar = 0;
    unsigned valid = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!in[i].valid)
            continue;
        valid++;
        rtt += in[i].rtt_us;
        rttvar += in[i].rttvar_us;
        if (in[i].min_rtt_us && (!out->min_rtt_us || in[i].min_rtt_us < out->min_rtt_us))
            out->min_rtt_us = in[i].min_rtt_us;
        out->snd_cwnd += in[i].snd_cwnd;
        if (in[i].snd_mss > out->snd_mss)
            out->snd_mss = in[i].snd_mss;
        out->total_retrans += in[i].total_retrans;
        out->delivery_rate_bps += in[i].delivery_rate_bps;
        out->bytes_acked += in[i].bytes_acked;
    }
    if (!valid)
        return;
    out->valid = true;
    out->rtt_us = (uint32_t)(rtt / valid);
    out->rttvar_us = (uint32_t)(rttvar / valid);
}
