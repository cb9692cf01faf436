/* fuzz/fuzz_fit_csv.c: libFuzzer target for the fitter's CSV readers (fit/points.c for runs,
 * fit/decay.c for loss curves), each followed by the check the fitter makes before fitting. */
#include <stdlib.h>

#include "fit/decay.h"
#include "fit/points.h"
#include "fuzz/fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    const char *path = fuzz_input_path(data, size);
    for (int compression_law = 0; compression_law < 2; compression_law++) {
        FitData d;
        if (fit_data_read_csv(path, compression_law, &d, err, sizeof err) == 0) {
            fit_data_check(&d, 5, compression_law, err, sizeof err);
            fit_data_free(&d);
        }
    }
    DecayPoint *pts = NULL;
    int n = 0;
    if (decay_read_csv(path, &pts, &n, err, sizeof err) == 0) free(pts);
    return 0;
}
