# Robustness on this machine's /dev/kvm (label "kvm"; docs/robustness.md).
# Many VMs at once: 20 `nvmevm bench` processes started together (NVMEVM_MANY_VMS=50 for the
# issue's 50), every one must exit 0 with iops > 0 and errors 0.
add_test(NAME kvm.robustness.many_vms
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/many-vms.sh $<TARGET_FILE:nvmevm>)
nvmevm_kvm_properties(kvm.robustness.many_vms)
# Failing backends: a full filesystem (ENOSPC, needs root to mount a tmpfs) and sectors that
# fail with EIO (device-mapper `error` target over a loop device; skipped where dm is missing).
foreach(case full-disk bad-sectors)
  add_test(NAME kvm.robustness.${case}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/failing-backend.sh $<TARGET_FILE:nvmevm>
      ${NVMEVM_TEST_GUEST} ${case})
  nvmevm_kvm_properties(kvm.robustness.${case})
endforeach()
