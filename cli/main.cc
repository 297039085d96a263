// nvmevm's entry point: everything testable lives in cli/command_line.cc.
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "cli/command_line.h"
#include "cli/embedded_guest.h"
#include "vmm/machine.h"

int main(int argc, char** argv) {
    // Before any thread starts, so that every thread inherits it: a console or stdout whose
    // reader has gone (`nvmevm run ... | head`) fails writes with EPIPE instead of killing
    // nvmevm before it stops the VM and flushes the drives (devices/output_sink.h).
    std::signal(SIGPIPE, SIG_IGN);
    // Whatever the parent left open beyond stdin, stdout and stderr is not nvmevm's to hold: a
    // compromised VMM must not find a leaked socket or file of its caller (docs/security.md).
    // Files are passed by path, never as inherited descriptors.
    (void)::close_range(3, ~0U, 0);
    const nvmevm::BenchEnvironment bench{nvmevm::embedded_guest(), nvmevm::run_machine_counted, {}};
    return nvmevm::nvmevm_main(argc, argv, std::cout, std::cerr, nvmevm::run_machine, bench);
}
