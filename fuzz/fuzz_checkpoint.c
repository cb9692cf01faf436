/* fuzz/fuzz_checkpoint.c: libFuzzer target for the checkpoint reader (engine/train/checkpoint.c)
 * and, for a checkpoint it accepts, the reading of the config text inside (as dlcm-score does). */
#include <stdlib.h>

#include "engine/train/checkpoint.h"
#include "engine/train/config.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    Checkpoint ck;
    if (checkpoint_read(fuzz_input_path(data, size), &ck, err, sizeof err) == 0) {
        /* What it accepts must fit in the file: three tensors of n_params floats. */
        if (ck.n_params > size / (3 * sizeof(float))) abort();
        TrainConfig cfg = train_config_default();
        config_load_text(&cfg, ck.config_text, "checkpoint", err, sizeof err);
        checkpoint_free(&ck);
    }
    return 0;
}
