#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/ (docs/fuzzing.md): a few valid inputs per
target, in the layouts the targets' comments describe, so that the fuzzers start past the first
checks. The config seeds are the example files plus a few hand-written ones. Run it again after
changing an input layout: python3 tests/fuzz/make_seeds.py"""
import pathlib
import shutil
import struct

ROOT = pathlib.Path(__file__).resolve().parent
CORPUS = ROOT / "corpus"

# virtio numbers (virtio/virtio_defs.h, virtio/blk_defs.h, virtio/pci_layout.h)
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = 0, 1, 4, 8, 11, 13
FLAG_EVENT_IDX, FLAG_INDIRECT, FLAG_RO, FLAG_DISCARD, FLAG_WZ = 1, 2, 4, 8, 16


class Ram:
    """Guest RAM at address 0 with a split queue of `size` entries: descriptor table at 0,
    available ring at 0x100, used ring at 0x200; buffers from 0x400 on."""

    DESC, AVAIL, USED = 0x000, 0x100, 0x200

    def __init__(self, size=8, length=0x1000):
        self.size = size
        self.ram = bytearray(length)
        self.next_desc = 0
        self.heads = []

    def put(self, addr, data):
        self.ram[addr:addr + len(data)] = data

    def desc(self, index, addr, length, flags, nxt, table=None):
        table = self.DESC if table is None else table
        self.put(table + 16 * index, struct.pack("<QIHH", addr, length, flags, nxt))

    def chain(self, buffers):
        """buffers: (addr, len, writable) in order; returns the head."""
        head = self.next_desc
        for i, (addr, length, writable) in enumerate(buffers):
            last = i == len(buffers) - 1
            flags = (F_WRITE if writable else 0) | (0 if last else F_NEXT)
            self.desc(head + i, addr, length, flags, 0 if last else head + i + 1)
        self.next_desc += len(buffers)
        self.heads.append(head)
        return head

    def indirect(self, table, buffers):
        head = self.next_desc
        for i, (addr, length, writable) in enumerate(buffers):
            last = i == len(buffers) - 1
            flags = (F_WRITE if writable else 0) | (0 if last else F_NEXT)
            self.desc(i, addr, length, flags, 0 if last else i + 1, table=table)
        self.desc(head, table, 16 * len(buffers), F_INDIRECT, 0)
        self.next_desc += 1
        self.heads.append(head)
        return head

    def header(self, addr, type_, sector):
        self.put(addr, struct.pack("<IIQ", type_, 0, sector))

    def publish(self, used_event=0):
        self.put(self.AVAIL, struct.pack("<HH", 0, len(self.heads)))
        for i, head in enumerate(self.heads):
            self.put(self.AVAIL + 4 + 2 * i, struct.pack("<H", head))
        self.put(self.AVAIL + 4 + 2 * self.size, struct.pack("<H", used_event))
        return bytes(self.ram)


def blk_header(size, flags, capacity=2048):
    # u16 size, u8 flags, u16 desc, u16 avail, u16 used, u32 capacity, u16 max_discard_sectors,
    # u8 max_discard_seg, u16 max_write_zeroes_sectors, u8 max_write_zeroes_seg
    return struct.pack("<HBHHHIHBHB", size, flags, Ram.DESC, Ram.AVAIL, Ram.USED, capacity,
                       1024, 4, 1024, 4)


def ram_read_write_flush():
    r = Ram()
    r.header(0x400, T_IN, 0)
    r.chain([(0x400, 16, False), (0x800, 512, True), (0x410, 1, True)])
    r.header(0x420, T_OUT, 8)
    r.chain([(0x420, 16, False), (0xa00, 512, False), (0x430, 1, True)])
    r.header(0x440, T_FLUSH, 0)
    r.chain([(0x440, 16, False), (0x450, 1, True)])
    return r.publish()


def ram_indirect_get_id_discard():
    r = Ram(size=16)
    r.header(0x400, T_GET_ID, 0)
    r.indirect(0x300, [(0x400, 16, False), (0x800, 20, True), (0x410, 1, True)])
    r.header(0x420, T_DISCARD, 0)
    r.put(0x600, struct.pack("<QII", 16, 8, 0) + struct.pack("<QII", 64, 32, 0))
    r.chain([(0x420, 16, False), (0x600, 32, False), (0x430, 1, True)])
    r.header(0x440, T_WRITE_ZEROES, 0)
    r.put(0x640, struct.pack("<QII", 128, 16, 1))
    r.chain([(0x440, 16, False), (0x640, 16, False), (0x450, 1, True)])
    # A read split over three data buffers.
    r.header(0x460, T_IN, 4)
    r.chain([(0x460, 16, False), (0x800, 512, True), (0xa00, 512, True), (0xc00, 1024, True),
             (0x470, 1, True)])
    return r.publish(used_event=1)


def write_blk_chain():
    out = CORPUS / "fuzz_blk_chain"
    out.mkdir(parents=True, exist_ok=True)
    (out / "read_write_flush").write_bytes(blk_header(8, 0) + ram_read_write_flush())
    (out / "indirect_get_id_discard").write_bytes(
        blk_header(16, FLAG_EVENT_IDX | FLAG_INDIRECT | FLAG_DISCARD | FLAG_WZ) +
        ram_indirect_get_id_discard())
    (out / "read_only").write_bytes(blk_header(8, FLAG_RO) + ram_read_write_flush())


def write_blk_queue():
    out = CORPUS / "fuzz_blk_queue"
    out.mkdir(parents=True, exist_ok=True)
    flags = FLAG_EVENT_IDX | FLAG_INDIRECT | FLAG_DISCARD | FLAG_WZ
    # Script bytes: 0 drain, 1 reap, 2 finish_batch, 3 reset + activate, 4 poke (u16, u8),
    # 5 round.
    (out / "rounds").write_bytes(blk_header(8, 0) + b"\0" + ram_read_write_flush())
    script = bytes([0, 4, 0x01, 0x00, 0x09, 1, 2, 5])  # drain, rewrite desc 0's address, ...
    (out / "poke_in_flight").write_bytes(blk_header(16, flags) + bytes([len(script)]) + script +
                                         ram_indirect_get_id_discard())
    script = bytes([0, 3, 1, 2, 4, 0x02, 0x01, 0x03, 5, 5])  # reset with requests in flight
    (out / "reset_in_flight").write_bytes(blk_header(16, flags) + bytes([len(script)]) + script +
                                          ram_indirect_get_id_discard())


# fuzz_pci: op byte = kind | log2(width) << 3 | write << 5, then u16 offset, then the value.
PORT, CONFIG, BAR, DEVICE, COMMON = 0, 1, 3, 6, 7
MSIX_CAP = 0x98  # where the transport puts the MSI-X capability (after five virtio ones)
COMMON_FIELDS = dict(device_feature_select=0, device_feature=4, driver_feature_select=8,
                     driver_feature=12, config_msix_vector=16, device_status=20, queue_select=22,
                     queue_size=24, queue_msix_vector=26, queue_enable=28, queue_desc=32,
                     queue_driver=40, queue_device=48)


def op(kind, width, offset, value=None):
    log2 = {1: 0, 2: 1, 4: 2, 8: 3}[width]
    write = value is not None
    data = bytes([kind | log2 << 3 | (0x20 if write else 0)]) + struct.pack("<H", offset)
    if write:
        data += value.to_bytes(width, "little")
    return data


def config_read(reg, width=4, slot=1):
    return op(CONFIG, width, slot << 8 | reg)


def config_write(reg, width, value, slot=1):
    return op(CONFIG, width, slot << 8 | reg, value)


def common(field, width, value=None):
    return op(COMMON, width, COMMON_FIELDS[field], value)


def pci_bring_up(queues):
    s = b""
    # Enumeration: IDs, header type, capability list, BAR sizing, then the BAR and decoding.
    for reg in (0x00, 0x08, 0x0c, 0x2c, 0x34):
        s += config_read(reg)
    for cap in (0x40, 0x50, 0x64, 0x74, 0x84, MSIX_CAP):
        s += config_read(cap) + config_read(cap + 4) + config_read(cap + 8)
    s += config_write(0x10, 4, 0xffffffff) + config_read(0x10)
    s += config_write(0x14, 4, 0xffffffff) + config_read(0x14)
    s += config_write(0x10, 4, 0xfebf0000) + config_write(0x14, 4, 0)
    s += config_write(0x04, 2, 0x0006)
    # The driver: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK.
    s += common("device_status", 1, 0) + common("device_status", 1, 1)
    s += common("device_status", 1, 3)
    for half in (0, 1):
        s += common("device_feature_select", 4, half) + common("device_feature", 4)
    s += common("driver_feature_select", 4, 0) + common("driver_feature", 4, 1 << 29 | 1 << 9)
    s += common("driver_feature_select", 4, 1) + common("driver_feature", 4, 1)
    s += common("device_status", 1, 11) + common("device_status", 1)
    # MSI-X: enable masked, program the vectors, unmask.
    s += config_write(MSIX_CAP + 2, 2, 0xc000 | queues)
    for v in range(queues + 1):
        s += op(BAR, 4, 0x2000 + 16 * v, 0xfee00000) + op(BAR, 4, 0x2004 + 16 * v, 0)
        s += op(BAR, 4, 0x2008 + 16 * v, 0x40 + v) + op(BAR, 4, 0x200c + 16 * v, 0)
    s += config_write(MSIX_CAP + 2, 2, 0x8000 | queues)
    s += common("config_msix_vector", 2, 0)
    for q in range(queues):
        base = 0x100000 * (q + 1)
        s += common("queue_select", 2, q) + common("queue_size", 2) + common("queue_size", 2, 128)
        s += common("queue_msix_vector", 2, q + 1)
        s += common("queue_desc", 8, base) + common("queue_driver", 8, base + 0x1000)
        s += common("queue_device", 8, base + 0x2000) + common("queue_enable", 2, 1)
    s += common("device_status", 1, 15)
    return s


def write_pci():
    out = CORPUS / "fuzz_pci"
    out.mkdir(parents=True, exist_ok=True)
    features = 1 << 9 | 1 << 28 | 1 << 29
    header = struct.pack("<BHBQ", 1, 256, 1, features)  # two queues, accept DRIVER_OK
    up = pci_bring_up(2)
    (out / "bring_up").write_bytes(header + up)
    running = (op(BAR, 2, 0x1000, 0) + op(BAR, 2, 0x1004, 1) + op(DEVICE, 1, 0x000) +
               op(DEVICE, 1, 0x100) + op(DEVICE, 1, 1) + op(BAR, 1, 0x100) +
               op(BAR, 4, 0x200) + op(BAR, 8, 0x3000) + op(BAR, 4, 0x200c, 1) +
               op(DEVICE, 1, 0x000) + op(BAR, 8, 0x3000) + op(BAR, 4, 0x200c, 0) +
               op(DEVICE, 1, 2) + common("device_status", 1) + common("device_status", 1, 0))
    (out / "run_and_reset").write_bytes(header + up + running)
    # The PCI configuration access capability (at 0x84): a 4-byte read of BAR 0 offset 0x14
    # (device_status and neighbours) through the window, then a write of device_status.
    cfg = (config_write(0x84 + 4, 1, 0) + config_write(0x84 + 8, 4, 0x14) +
           config_write(0x84 + 12, 4, 4) + config_read(0x84 + 16) +
           config_write(0x84 + 8, 4, 0x14) + config_write(0x84 + 12, 4, 1) +
           config_write(0x84 + 16, 1, 1))
    (out / "pci_cfg_window").write_bytes(header + cfg)
    ports = (op(PORT, 4, 0, 0x80000000) + op(PORT, 4, 4) + op(PORT, 1, 3, 0x01) +
             op(PORT, 1, 1) + op(PORT, 1, 1, 0x02) + op(PORT, 4, 0) +
             op(PORT, 4, 0, 0x80000800) + op(PORT, 2, 6) + op(PORT, 1, 5))
    (out / "ports").write_bytes(header + ports)


def write_config():
    out = CORPUS / "fuzz_config"
    out.mkdir(parents=True, exist_ok=True)
    for example in sorted((ROOT.parent.parent / "examples").glob("*.toml")):
        shutil.copyfile(example, out / example.name)
    (out / "full.toml").write_text("""\
[machine]
vcpus = 4
memory_mib = 512

[boot]
kernel = "/boot/vmlinuz"
initrd = "initrd.img"
cmdline = "console=ttyS0 root=/dev/vda rw"

[console]
output = "console.log"

[[drive]]
id = "root"
path = "root.img"
read_only = false
engine = "uring"
queues = 2
queue_size = 256
direct = true
serial = "nvmevm-root"

[[drive]]
id = "scratch"
engine = "null"
size_mib = 1024
""")
    (out / "inline.toml").write_text(
        'machine = { vcpus = 1, memory_mib = 32 }\n'
        'boot = { kernel = "k", cmdline = """\\\n  quiet \\\n  panic=-1""" }\n'
        "console.output = 'none'\n"
        'drive = [ { id = "a", path = "a.img", queues = 1 } ]\n')


def main():
    write_blk_chain()
    write_blk_queue()
    write_pci()
    write_config()


if __name__ == "__main__":
    main()
