# `nvmevm bench` end to end on this machine's /dev/kvm (label "kvm"): the built-in benchmark
# guest against the null engine, and the JSON a CI job keeps must carry a positive IOPS figure.
add_test(NAME kvm.bench.null_json
  COMMAND ${EXPECT} 0 "\"iops\":[1-9][0-9]*\\." -- $<TARGET_FILE:nvmevm> bench --null 64
    --ops 2000 --qd 8 --json --no-progress)
nvmevm_kvm_properties(kvm.bench.null_json)
