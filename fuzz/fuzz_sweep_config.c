/* fuzz/fuzz_sweep_config.c: libFuzzer target for the sweep-file reader (sweep/config.c) and,
 * for what it accepts, the planner (sweep/plan.c). */
#include "fuzz/fuzz_input.h"
#include "sweep/config.h"
#include "sweep/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static SweepSpec spec; /* large: kept off the stack */
    char err[1024];
    if (sweep_config_parse((const char *)data, size, "fuzz.yaml", &spec, err, sizeof err) == 0) {
        SweepPlan plan;
        if (sweep_plan(&spec, &plan, err, sizeof err) == 0) sweep_plan_free(&plan);
    }
    return 0;
}
