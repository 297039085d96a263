# `nvmevm bench` end to end on this machine's /dev/kvm (label "kvm"): the built-in benchmark
# guest against the null engine, and the JSON a CI job keeps must carry a positive IOPS figure.
add_test(NAME kvm.bench.null_json
  COMMAND ${EXPECT} 0 "\"iops\":[1-9][0-9]*\\." -- $<TARGET_FILE:nvmevm> bench --null 64
    --ops 2000 --qd 8 --json --no-progress)
nvmevm_kvm_properties(kvm.bench.null_json)

# Several drives at once (--devices): jobs spread over two null drives, and the JSON carries one
# entry per device, in device order, each with requests done (the guest's array, and nvmevm's
# top-level copy: the regex wants exactly two items).
set(BENCH_DEVICE_ITEM "[{]\"ops\":[1-9][0-9]*,\"iops\":[0-9.]+,\"mbps\":[0-9.]+,\"lat_ns\":[{][^}]*[}][}]")
add_test(NAME kvm.bench.two_devices_json
  COMMAND ${EXPECT} 0 "\"devices\":[[]${BENCH_DEVICE_ITEM},${BENCH_DEVICE_ITEM}[]]" --
    $<TARGET_FILE:nvmevm> bench --config ${CMAKE_CURRENT_SOURCE_DIR}/bench-two-null.toml
    --devices 2 --vcpus 2 --ops 2000 --json --no-progress)
nvmevm_kvm_properties(kvm.bench.two_devices_json)
