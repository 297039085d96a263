// Block device discard through io_uring (IORING_OP_URING_CMD, Linux 6.12): the kernel headers of
// Debian 12 (6.1) and liburing 2.3 predate it, so the command number and the SQE layout the
// block layer reads are spelled out here. The block layer takes the byte range from sqe->addr
// (start) and sqe->addr3 (length) and wants every other argument field zero.
#pragma once

#include <liburing.h>
#include <sys/ioctl.h>

#include <cstdint>
#include <cstring>

namespace nvmevm {

// include/uapi/linux/fs.h (6.12): #define BLOCK_URING_CMD_DISCARD _IO(0x12, 0)
inline constexpr uint32_t kBlockUringCmdDiscard = _IO(0x12, 0);

inline void prep_block_discard(io_uring_sqe* sqe, int fd, uint64_t offset, uint64_t length) {
    std::memset(sqe, 0, sizeof(*sqe));
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = fd;
    sqe->cmd_op = kBlockUringCmdDiscard;
    sqe->addr = offset;
    sqe->addr3 = length;
}

}  // namespace nvmevm
