# The test guest's `hostile` mode (tests/guest/mode_hostile.cc) on this machine's /dev/kvm:
# malformed descriptor chains, corrupt rings, unusable queue settings, stray register writes
# and a reset with requests in flight against the first virtio-blk drive, each answer checked
# against docs/virtio-blk.md ("Guest input"), the device re-checked with a normal write + read
# after every case. With two drives the second must still serve a normal write + read.
# blk-run.sh requires every case's PASS line (tests/kvm/blk-expect.sh), one device per drive,
# and no SKIP.
add_test(NAME kvm.hostile.one_drive
  COMMAND ${BLK_RUN} $<TARGET_FILE:nvmevm> ${NVMEVM_TEST_GUEST} -- hostile)
add_test(NAME kvm.hostile.two_drives
  COMMAND ${BLK_RUN} $<TARGET_FILE:nvmevm> ${NVMEVM_TEST_GUEST} --drives 2 -- hostile)
add_test(NAME kvm.hostile.two_vcpus_shm
  COMMAND ${BLK_RUN} $<TARGET_FILE:nvmevm> ${NVMEVM_TEST_GUEST} --vcpus 2
    --dir /dev/shm/nvmevm-hostile-test -- hostile)
nvmevm_kvm_properties(kvm.hostile.one_drive kvm.hostile.two_drives kvm.hostile.two_vcpus_shm)
