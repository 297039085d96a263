// Requests whose guest buffers O_DIRECT would refuse. virtio lets a driver place a request's
// data anywhere in its memory, in segments of any length; O_DIRECT wants every buffer aligned
// to the file's memory alignment (STATX_DIOALIGN: 512 bytes on a disk whose DMA needs it) and
// every segment a whole number of blocks. Linux guests align their buffers out of habit; small
// guests need not (the test guest's read-only check reads into a byte array, which failed with
// EINVAL on a machine whose disk wants 512-byte-aligned memory). Such a request goes through an
// aligned buffer of nvmevm's own (a slot of the engine's BouncePool, storage/bounce_pool.h, a
// slot at a time: bounded memory whatever the request's size), synchronously on the vCPU thread:
// it is rare, and the guest waits for this one request either way.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>

#include "storage/bounce_pool.h"
#include "storage/engine.h"

namespace nvmevm {

class FileBacking;

// True for a read or write that O_DIRECT would refuse only because of where or how its data
// segments lie in memory. A request whose offset or total length is misaligned is not one: no
// buffer fixes that, and the backing's own error (EINVAL) answers it.
[[nodiscard]] bool needs_bounce_buffer(const FileBacking& backing, const BlockIo& io) noexcept;

// A read or write on this thread with preadv/pwritev (retried on EINTR): the byte count or
// -errno, as a CQE's res. The engines' synchronous path (memory-backed files, bounce buffers).
[[nodiscard]] int32_t transfer_synchronously(int fd, bool write, std::span<const iovec> segments,
                                             uint64_t offset) noexcept;

// Does the read or write through a slot of `pool`, a slot's worth at a time: the byte count or
// -errno, as a CQE's res (-ENOMEM when the pool has no free slot).
[[nodiscard]] int32_t transfer_through_bounce_buffer(const FileBacking& backing, const BlockIo& io,
                                                     BouncePool& pool) noexcept;

// Copies `n` bytes between the data of `segments`, from byte `skip` on, and `buffer`: into the
// buffer (`to_buffer`) or out of it. Stops early where the segments end.
void copy_segments(std::span<const iovec> segments, uint64_t skip, uint8_t* buffer, uint64_t n,
                   bool to_buffer) noexcept;

}  // namespace nvmevm
