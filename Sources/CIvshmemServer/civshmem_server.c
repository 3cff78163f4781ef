#define _GNU_SOURCE
#include "civshmem_server.h"

#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int ivshmem_server_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int ivshmem_server_accept(int listener) { return accept4(listener, NULL, NULL, SOCK_CLOEXEC); }

int ivshmem_server_pipe(int ends[2]) { return pipe2(ends, O_CLOEXEC | O_NONBLOCK); }

long ivshmem_server_send(int socket, int64_t value, int descriptor) {
    struct iovec vector = { .iov_base = &value, .iov_len = sizeof value };
    union { struct cmsghdr header; char bytes[CMSG_SPACE(sizeof(int))]; } control;
    struct msghdr message = { .msg_iov = &vector, .msg_iovlen = 1 };
    if (descriptor >= 0) {
        memset(&control, 0, sizeof control);
        message.msg_control = control.bytes;
        message.msg_controllen = sizeof control.bytes;
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &descriptor, sizeof descriptor);
    }
    // Never block the server on a peer that stopped reading (QEMU's server makes its sockets nonblocking too).
    return sendmsg(socket, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
}

long ivshmem_server_receive(int socket, void *buffer, unsigned long length, int flags, int *descriptor) {
    struct iovec vector = { .iov_base = buffer, .iov_len = length };
    union { struct cmsghdr header; char bytes[CMSG_SPACE(sizeof(int))]; } control;
    struct msghdr message = { .msg_iov = &vector, .msg_iovlen = 1,
                              .msg_control = control.bytes, .msg_controllen = sizeof control.bytes };
    long count = recvmsg(socket, &message, MSG_CMSG_CLOEXEC | flags);
    if (count <= 0) return count;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        size_t count_fds = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count_fds; i++) {
            int received;
            memcpy(&received, CMSG_DATA(header) + i * sizeof(int), sizeof received);
            // One descriptor per message in this protocol: keep the first, close extras.
            if (*descriptor < 0) *descriptor = received; else close(received);
        }
    }
    return count;
}
