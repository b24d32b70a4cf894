/*
 * The lin simulator's TCP sockets (modules/io/socket/lin/tcp.c) write with
 * write(2) and rely on SO_NOSIGPIPE, which Linux does not have: when the
 * broker goes away, the next MQTT write raises SIGPIPE and the whole
 * simulated device dies. A device must survive a lost broker, so the lin
 * build ignores SIGPIPE (writes then fail with EPIPE, which the socket
 * reports as an error). Called from firmware/lin/main.ts at boot, after
 * the debugger connection (which sets SIGPIPE back to its default).
 */
#include "xsmc.h"
#include <signal.h>

void xs_xsfleet_ignore_sigpipe(xsMachine *the)
{
	signal(SIGPIPE, SIG_IGN);
}
