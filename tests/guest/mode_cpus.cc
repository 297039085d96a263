// `cpus`: the number of vCPUs the VMM's ACPI MADT lists ("cpus=N" or "cpus=unknown").
#include "acpi.h"
#include "modes.h"
#include "serial.h"

namespace guest {

void mode_cpus(const Context& context) {
    CpuCount count = count_madt_cpus(context.start_info->rsdp_paddr);
    put_line_start("cpus=");
    if (count.ok) {
        put_dec(count.cpus);
    } else {
        put_str("unknown (");
        put_str(count.error);
        put_char(')');
    }
    put_char('\n');
}

}  // namespace guest
