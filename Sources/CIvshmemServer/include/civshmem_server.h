// What Swift's Glibc module leaves out for the ivshmem server: GNU socket calls, eventfd and
// the CMSG_* macros of SCM_RIGHTS messages.
#ifndef CIVSHMEM_SERVER_H
#define CIVSHMEM_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

// A nonblocking, close-on-exec eventfd (as QEMU's event_notifier_init); -1 with errno on failure.
int ivshmem_server_eventfd(void);
// accept4(SOCK_CLOEXEC).
int ivshmem_server_accept(int listener);
// pipe2(O_CLOEXEC | O_NONBLOCK).
int ivshmem_server_pipe(int ends[2]);
// sendmsg of the 8 bytes `value` (as stored), with `descriptor` attached when >= 0, never blocking;
// the byte count or -1.
long ivshmem_server_send(int socket, int64_t value, int descriptor);
// recvmsg of up to `length` bytes into `buffer` (MSG_CMSG_CLOEXEC | flags); an attached descriptor
// goes to *descriptor (left alone when none). The byte count, 0 at end of stream, or -1.
long ivshmem_server_receive(int socket, void *buffer, unsigned long length, int flags, int *descriptor);

#endif
