// nvmevm's entry point: everything testable lives in cli/command_line.cc.
#include <iostream>

#include "cli/command_line.h"
#include "cli/embedded_guest.h"
#include "vmm/machine.h"

int main(int argc, char** argv) {
    const nvmevm::BenchEnvironment bench{nvmevm::embedded_guest(), nvmevm::run_machine_counted, {}};
    return nvmevm::nvmevm_main(argc, argv, std::cout, std::cerr, nvmevm::run_machine, bench);
}
