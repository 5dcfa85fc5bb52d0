#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

/* MHD_start_daemon takes its options as C varargs, which Swift cannot pass;
   this wrapper fixes the option list Tributary uses. */
static inline struct MHD_Daemon *tributary_mhd_start(
    unsigned int flags,
    const struct sockaddr_in *address,
    MHD_AccessHandlerCallback handler, void *handler_context,
    MHD_RequestCompletedCallback completed, void *completed_context,
    MHD_NotifyConnectionCallback notify_connection, void *notify_connection_context,
    size_t connection_memory_limit_bytes,
    unsigned int connection_timeout_s,
    unsigned int connection_limit,
    unsigned int per_ip_connection_limit)
{
    return MHD_start_daemon(flags, ntohs(address->sin_port), NULL, NULL,
        handler, handler_context,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)address,
        MHD_OPTION_NOTIFY_COMPLETED, completed, completed_context,
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, notify_connection_context,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_memory_limit_bytes,
        MHD_OPTION_CONNECTION_TIMEOUT, connection_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, connection_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip_connection_limit,
        MHD_OPTION_END);
}

/* MHD_get_connection_info is variadic too: whether the connection's client is on this
   machine (IPv4 127.0.0.0/8, IPv6 ::1 or an IPv4-mapped loopback address). */
static inline int tributary_mhd_client_is_loopback(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL) return 0;
    const struct sockaddr *address = info->client_addr;
    if (address->sa_family == AF_INET) {
        return (ntohl(((const struct sockaddr_in *)address)->sin_addr.s_addr) >> 24) == 127;
    }
    if (address->sa_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)address)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(v6)) return 1;
        return IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127;
    }
    return 0;
}

/* The connection's socket, for closing it from outside its thread (deadlines); -1 if unknown. */
static inline int tributary_mhd_connection_fd(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : info->connect_fd;
}
