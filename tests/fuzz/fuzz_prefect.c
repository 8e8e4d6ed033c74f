/*
 * fuzz_prefect.c: Prefect's answers through the Prefect adapter's parsers
 * (src/engines/prefect.c): health and version, the flows and deployments pages (and a
 * 422 that lowers the page size), a created flow run, a flow run's state. Variants: a
 * self-hosted server (Basic auth), Prefect Cloud ("cloud": Bearer, no version), no auth
 * ("none"). adapter_driver.h has the input's format and the checks.
 */
#include "adapter_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const fuzz_engine prefect = {
        .type = "prefect",
        .url = "http://prefect.test:4200/api",
        .cloud_url = "https://api.prefect.cloud/api/accounts/a1/workspaces/w1",
        .config = "{}",
        .workflow_id = "5f0b7c1e-2a43-4b6e-9d1f-0c8e7a6b5d4c",
        .run_id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    };
    return fuzz_adapter(&prefect, data, size);
}
