/*
 * rfctl_keygen.c: rfctl keygen DIR [NAME...]. CURVE key pairs for the bus (the
 * five workers by default), as rf-keygen makes them: DIR/NAME.key and
 * DIR/public_keys. The only command that asks no worker.
 */
#include "bus/curve.h"
#include "proto/proto.h"
#include "rfctl_internal.h"

int rfctl_run_keygen(const rfctl_command *cmd, int argc, char **argv) {
    if (argc < 1) return rfctl_usage_error("%s", cmd->usage);
    const char *names[64];
    size_t n = 0;
    for (int i = 1; i < argc && n < 64; i++) names[n++] = argv[i];
    if (n == 0)
        for (unsigned i = 0; i < RF_WORKER_COUNT; i++) names[n++] = rf_worker_name(i);
    char err[512];
    if (rf_curve_keygen_dir(argv[0], names, n, rfctl_json ? NULL : stdout, err, sizeof err) != 0) {
        fprintf(stderr, "rfctl: keygen: %s\n", err);
        return 1;
    }
    if (rfctl_json) printf("{\"dir\": \"%s\", \"keys\": %zu}\n", argv[0], n);
    return 0;
}
