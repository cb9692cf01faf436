/* fuzz/fuzz_tasks.c: libFuzzer target for reading a task file (engine/train/tasks.c): JSONL
 * items, multiple choice and cloze, checked and prepared for scoring as dlcm-score does. */
#include "engine/train/tasks.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    int code;
    TaskSet *t = tasks_read_file(fuzz_input_path(data, size), 0, &code, err, sizeof err);
    if (t) tasks_free(t);
    return 0;
}
