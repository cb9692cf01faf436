/* fuzz/fuzz_fit_json.c: libFuzzer target for reading a stored fit back (fit/summary.c), as
 * dlcm-query does with a fit JSON file or a fit row's JSON. */
#include <stdlib.h>

#include "fit/summary.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    char *text = fuzz_input_text(data, size);
    LawSummary s;
    if (summary_from_json(text, "fuzz.json", &s, err, sizeof err) == 0) summary_free(&s);
    free(text);
    return 0;
}
