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
    size_t connection_memory_limit_bytes,
    unsigned int connection_timeout_s,
    unsigned int connection_limit,
    unsigned int per_ip_connection_limit)
{
    return MHD_start_daemon(flags, ntohs(address->sin_port), NULL, NULL,
        handler, handler_context,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)address,
        MHD_OPTION_NOTIFY_COMPLETED, completed, completed_context,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_memory_limit_bytes,
        MHD_OPTION_CONNECTION_TIMEOUT, connection_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, connection_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip_connection_limit,
        MHD_OPTION_END);
}
