/* Prints the changes ipvsrs_diff_yaml computes for the model file MODEL, one description
 * a line, with the parameter sources named after it: `env`, `network`, `file PATH`
 * (repeatable). On failure prints ipvsrs_last_error() on stderr and exits 1.
 * tests/kernel/converge.rs compares what it prints with the CLI and the Python module. */
#include <stdio.h>
#include <string.h>
#include "ipvsrs.h"

#define MAX_FILES 8

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [env] [network] [file PATH]...\n", argv[0]);
        return 2;
    }
    const char *files[MAX_FILES + 1];
    size_t count = 0;
    ipvsrs_apply_options opts = { .flags = IPVSRS_MODEL_PATH, .params_files = files };
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "env") == 0) {
            opts.flags |= IPVSRS_PARAMS_ENV;
        } else if (strcmp(argv[i], "network") == 0) {
            opts.flags |= IPVSRS_PARAMS_NETWORK;
        } else if (strcmp(argv[i], "file") == 0 && i + 1 < argc && count < MAX_FILES) {
            files[count++] = argv[++i];
        } else {
            fprintf(stderr, "%s: unexpected argument %s\n", argv[0], argv[i]);
            return 2;
        }
    }
    files[count] = NULL;
    ipvsrs_changeset *cs = ipvsrs_diff_yaml(NULL, argv[1], &opts);
    if (!cs) {
        fprintf(stderr, "%s\n", ipvsrs_last_error());
        return 1;
    }
    const ipvsrs_change *c;
    while ((c = ipvsrs_changeset_next(cs)) != NULL)
        printf("%s\n", c->description);
    ipvsrs_changeset_free(cs);
    return 0;
}
