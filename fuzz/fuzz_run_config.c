/* fuzz/fuzz_run_config.c: libFuzzer target for the run-config reader (engine/train/config.c):
 * a YAML file read, resolved, and written back in canonical form, which must read back. */
#include <stdlib.h>

#include "engine/train/config.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    TrainConfig cfg = train_config_default();
    ConfigSources *src = config_sources_create();
    if (!src) abort();
    int rc = config_load_yaml(&cfg, src, fuzz_input_path(data, size), err, sizeof err);
    if (rc == 0) rc = config_resolve(&cfg, src, err, sizeof err);
    config_sources_destroy(src);
    if (rc == 0) {
        char *text = config_canonical(&cfg);
        TrainConfig back = train_config_default();
        if (config_load_text(&back, text, "canonical", err, sizeof err) != 0) abort();
        free(text);
    }
    return 0;
}
