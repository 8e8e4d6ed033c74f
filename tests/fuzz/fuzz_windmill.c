/*
 * fuzz_windmill.c: Windmill's answers through the Windmill adapter's parsers
 * (src/engines/windmill.c): the version text, the workspace check (and whoami after a
 * 401), the flows and scripts pages, a started job's id (bare text), a job's state.
 * Variants: the kind of run ("flow", "script"; without one a flow is tried, then a
 * script). adapter_driver.h has the input's format and the checks.
 */
#include "adapter_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_engine windmill = {
        .type = "windmill",
        .url = "http://windmill.test:8000",
        .cloud_url = NULL,
        .config = "{\"workspace\":\"ops\"}",
        .workflow_id = "f/ops/nightly_sync",
        .run_id = "018f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    };
    return fuzz_adapter(&windmill, data, size);
}
